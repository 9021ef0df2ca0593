// Command etcd is the etcd server of the local cluster: etcdmain holds the whole
// program, and this module pins the etcd release that Kubernetes 1.37 ships with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
