"""sparkrig: a parallel test rig for Helm charts of Apache Spark on Kubernetes."""

__version__ = "0.1.0"
