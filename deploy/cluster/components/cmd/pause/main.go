// Command pause is the pod sandbox process of the local cluster: it holds the pod's namespaces
// open, reaps the zombies it inherits as PID 1 and exits on SIGINT or SIGTERM. Built here so that
// nodes without a registry have a sandbox image (deploy/cluster/images.py imports it).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("pause (mlops local cluster)\n")
		return
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
