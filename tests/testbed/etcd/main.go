// Command etcd is the test bed's etcd: upstream's own server entry point (go.etcd.io/etcd/server/v3/etcdmain),
// built from the pinned module in go.mod by tests/testbed/build.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
