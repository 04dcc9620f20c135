// Command egress-forwarder gives a setup command in a Lockstep sandbox its only route out.
//
// The sandbox has no network interface but loopback. The worker's egress proxy listens on a
// unix socket mounted into the sandbox; this program listens on a loopback port, pipes every
// connection to that socket, and runs the setup command as its child, so the route exists
// exactly as long as the command does. It is static (CGO off) so it runs in any image, also
// one without a libc, a shell or a language runtime of its own.
//
//	egress-forwarder -listen 127.0.0.1:3128 -socket /run/lockstep-egress/egress.sock -- cmd args...
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3128", "loopback address the setup command's proxy variables name")
	socket := flag.String("socket", "", "the worker's egress proxy socket, as mounted in the sandbox")
	flag.Parse()
	args := flag.Args()
	if *socket == "" || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: egress-forwarder -listen 127.0.0.1:PORT -socket PATH -- command [args...]")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lockstep egress: cannot listen on %s: %v\n", *listen, err)
		os.Exit(125)
	}
	go serve(ln, *socket)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "lockstep egress: cannot start %s: %v\n", args[0], err)
		os.Exit(127)
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range signals {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	_ = ln.Close()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			os.Exit(128 + int(status.Signal()))
		}
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		os.Exit(1)
	}
}

func serve(ln net.Listener, socket string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go pipe(conn, socket)
	}
}

// pipe copies both ways and half-closes each side when the other is done, so a client that
// ends its request still reads the whole answer.
func pipe(conn net.Conn, socket string) {
	defer conn.Close()
	upstream, err := net.Dial("unix", socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lockstep egress: the worker's proxy is not reachable: %v\n", err)
		return
	}
	defer upstream.Close()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(upstream, conn)
		if c, ok := upstream.(*net.UnixConn); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(conn, upstream)
		if c, ok := conn.(*net.TCPConn); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}
