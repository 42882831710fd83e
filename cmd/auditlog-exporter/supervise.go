//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
)

// canSupervise: Linux has the parent-death signal the supervisor needs.
const canSupervise = true

// supervisedEnv marks the child process; its value is the number of the
// file descriptor on which the child reports the exit code it chose.
const supervisedEnv = "AUDITLOG_EXPORTER_SUPERVISED"

// A Go runtime crash (a panic nothing recovered, "fatal error: out of
// memory") exits with status 2, which the exit-code contract reserves for
// "bad configuration, do not retry". So the exporter runs as a child of a
// small supervisor: the child reports the code it chose on a pipe before it
// exits; a child that ends without reporting one crashed, and the
// supervisor says so and exits 1 (worth retrying). A child killed by a
// signal is reported the same way: the supervisor kills itself with that
// signal. The child dies with the supervisor (Pdeathsig), so killing the
// process one started stops the export.
func supervise(stderr io.Writer) int {
	// Standard error is the last place to say anything: a failure to
	// write there has nowhere to go.
	say := func(format string, a ...any) { _, _ = fmt.Fprintf(stderr, format, a...) }
	exe, err := os.Executable()
	if err != nil {
		say("auditlog-exporter: cannot find its own executable: %v\n", err)
		return exitFailed
	}
	r, w, err := os.Pipe()
	if err != nil {
		say("auditlog-exporter: %v\n", err)
		return exitFailed
	}
	// Pdeathsig follows the thread that started the child: keep it.
	runtime.LockOSThread()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), supervisedEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	signal.Ignore(syscall.SIGPIPE)
	if err := cmd.Start(); err != nil {
		say("auditlog-exporter: start: %v\n", err)
		return exitFailed
	}
	_ = w.Close() // the child holds its own end
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	reported := make(chan int, 1)
	go func() {
		var b [1]byte
		if n, _ := r.Read(b[:]); n == 1 {
			reported <- int(b[0])
		}
		close(reported)
	}()
	waitErr := cmd.Wait()
	code, ok := <-reported
	if ok {
		return code
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		say("auditlog-exporter: %v\n", waitErr)
		return exitFailed
	}
	if ws, isWS := ee.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
		sig := ws.Signal()
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig)
		say("auditlog-exporter: killed by %v\n", sig)
		return exitFailed
	}
	say("auditlog-exporter: the process crashed (exit status %d, see the Go runtime's message above); this is a bug, please report it. Exit 1: nothing was committed past the last complete window, and the next run starts from there.\n", ee.ExitCode())
	return exitFailed
}

// reportExit tells the supervisor, if any, the code this process chose.
func reportExit(code int) {
	if os.Getenv(supervisedEnv) != "3" {
		return
	}
	f := os.NewFile(3, "exit-code")
	if f == nil {
		return
	}
	_, _ = f.Write([]byte{byte(code)})
	_ = f.Close()
}
