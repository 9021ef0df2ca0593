"""prepare_reports loads the report writers ahead of write_reports."""

from __future__ import annotations

import subprocess
import sys


def test_prepare_reports_loads_writer_libraries() -> None:
    probe = (
        "import sys\n"
        "import sparkrig.report\n"
        "before = [name for name in ('jinja2', 'junit_xml') if name in sys.modules]\n"
        "sparkrig.report.prepare_reports()\n"
        "after = [name for name in ('jinja2', 'junit_xml') if name in sys.modules]\n"
        "print(','.join(before) + '|' + ','.join(after))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "|jinja2,junit_xml"
