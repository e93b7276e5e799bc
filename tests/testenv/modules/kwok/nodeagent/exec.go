package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
	kwokv1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
)

// ExecMarker is an environment variable set in every exec'd process.
const ExecMarker = "KODAMA_TESTENV_EXEC"

// running holds the process group ids of the exec sessions in progress
// (the agent's own children, whose exit status cmd.Wait collects).
var running sync.Map

// startMu orders starting a session (and recording it in running) with the
// reaper, so that the reaper never collects a session's exit status.
var startMu sync.Mutex

func start(run func() error, cmd *exec.Cmd) error {
	startMu.Lock()
	defer startMu.Unlock()
	if err := run(); err != nil {
		return err
	}
	running.Store(cmd.Process.Pid, struct{}{})
	return nil
}

// killSessions ends every exec session still running (on shutdown).
func killSessions() {
	running.Range(func(pid, _ any) bool {
		_ = syscall.Kill(-pid.(int), syscall.SIGKILL)
		return true
	})
}

// serve runs the HTTPS endpoint the API server believes is the node's
// kubelet. Only clients holding a certificate from our CA (the API server)
// get in: whatever reaches /exec runs on this host.
func (a *agent) serve(ctx context.Context, addr, certFile, keyFile, clientCA string) error {
	caPEM, err := os.ReadFile(clientCA)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s", clientCA)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", a.handleExec)
	mux.HandleFunc("/exec/{namespace}/{pod}/{uid}/{container}", a.handleExec)
	// The simulated containers print nothing: logs exist and are empty.
	mux.HandleFunc("/containerLogs/{namespace}/{pod}/{container}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
	})
	srv := &http.Server{
		Addr:    addr,
		Handler: mux,
		TLSConfig: &tls.Config{
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  pool,
			MinVersion: tls.VersionTLS12,
		},
		// Upgrades (SPDY, websocket) need HTTP/1.1.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("exec server listening on https://%s", addr)
	if err := srv.ListenAndServeTLS(certFile, keyFile); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *agent) handleExec(w http.ResponseWriter, req *http.Request) {
	ns, pod, container := req.PathValue("namespace"), req.PathValue("pod"), req.PathValue("container")
	opts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, req, a, ns+"/"+pod, req.PathValue("uid"), container,
		req.URL.Query()["command"], opts, 4*time.Hour, 30*time.Second, remotecommand.SupportedStreamingProtocols)
}

// findTarget returns the exec target of a container from the pod's kwok Exec
// object, read fresh so that a recreated pod never sees a stale mapping.
// It also returns the UID of the pod the mapping was made for (its owner).
func (a *agent) findTarget(ctx context.Context, ns, pod, container string) (*kwokv1.ExecTargetLocal, types.UID, error) {
	obj, err := a.kwok.KwokV1alpha1().Execs(ns).Get(ctx, pod, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, "", fmt.Errorf("pod %s/%s has no Exec mapping yet", ns, pod)
	} else if err != nil {
		return nil, "", err
	}
	var uid types.UID
	for _, ref := range obj.OwnerReferences {
		if ref.Kind == "Pod" {
			uid = ref.UID
		}
	}
	if uid == "" {
		return nil, "", fmt.Errorf("Exec mapping of pod %s/%s has no owner pod", ns, pod)
	}
	if _, gone := terminating.Load(uid); gone {
		return nil, "", fmt.Errorf("pod %s/%s is terminating: its containers are stopped", ns, pod)
	}
	var fallback *kwokv1.ExecTargetLocal
	for _, t := range obj.Spec.Execs {
		if len(t.Containers) == 0 && fallback == nil {
			fallback = t.Local
		}
		for _, c := range t.Containers {
			if c == container {
				return t.Local, uid, nil
			}
		}
	}
	if fallback == nil {
		return nil, "", fmt.Errorf("container %q of pod %s/%s has no Exec mapping", container, ns, pod)
	}
	return fallback, uid, nil
}

// ExecInContainer implements remotecommand.Executor.
func (a *agent) ExecInContainer(ctx context.Context, name, _ string, container string, argv []string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if len(argv) == 0 {
		return errors.New("no command given")
	}
	ns, pod, _ := strings.Cut(name, "/")
	target, uid, err := a.findTarget(ctx, ns, pod, container)
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// PATH and the like from the agent (started with a small environment); the
	// mapping overrides them.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBE_FEATURE_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	if target != nil {
		cmd.Dir = target.WorkDir
		for _, e := range target.Envs {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
	}
	// Marks every exec'd process (and what it spawns, daemons included): the
	// agent ends a pod's processes with the pod, `down` finds strays.
	cmd.Env = append(cmd.Env, ExecMarker+"="+a.stateDir, PodUIDMarker+"="+string(uid), PodMarker+"="+name)
	if tty && !hasEnv(cmd.Env, "TERM") {
		cmd.Env = append(cmd.Env, "TERM=xterm")
	}
	log.Printf("exec %s/%s[%s] tty=%v: %q", ns, pod, container, tty, argv)
	if tty {
		err = runWithTTY(ctx, cmd, in, out, resize)
	} else {
		err = runWithPipes(ctx, cmd, in, out, errOut)
	}
	return exitStatus(cmd, err, errOut, out)
}

func hasEnv(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}

// exitStatus turns the outcome of a process into what the streaming protocol
// reports: a CodeExitError carries the exit code back to `kubectl exec`.
func exitStatus(cmd *exec.Cmd, err error, errOut, out io.Writer) error {
	if cmd.ProcessState != nil { // it ran: report how it ended (even if I/O was cut short)
		code := cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		if code == 0 {
			return nil
		}
		return utilexec.CodeExitError{Err: fmt.Errorf("command exited with code %d", code), Code: code}
	}
	if err == nil {
		return nil
	}
	if cmd.Process == nil { // never started: behave like a container runtime
		w := errOut
		if w == nil {
			w = out
		}
		if w != nil {
			_, _ = fmt.Fprintf(w, "exec: %s: %v\n", cmd.Path, err)
		}
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return utilexec.CodeExitError{Err: err, Code: code}
	}
	return err
}

func runWithPipes(ctx context.Context, cmd *exec.Cmd, in io.Reader, out, errOut io.Writer) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = out, errOut
	// A background child holding stdout must not keep the session open forever.
	cmd.WaitDelay = 2 * time.Second
	var stdin io.WriteCloser
	if in != nil {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if err := start(cmd.Start, cmd); err != nil {
		return err
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, in)
			_ = stdin.Close()
		}()
	}
	return waitOrKill(ctx, cmd)
}

func runWithTTY(ctx context.Context, cmd *exec.Cmd, in io.Reader, out io.Writer, resize <-chan remotecommand.TerminalSize) error {
	var ptmx *os.File
	err := start(func() (err error) {
		ptmx, err = pty.Start(cmd) // new session with the pty as controlling terminal
		return err
	}, cmd)
	if err != nil {
		return err
	}
	defer ptmx.Close()
	if resize != nil {
		go func() {
			for size := range resize {
				_ = pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}()
	}
	if in != nil {
		go func() { _, _ = io.Copy(ptmx, in) }()
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, ptmx) // ends with EIO once every holder of the tty is gone
		close(copied)
	}()
	err = waitOrKill(ctx, cmd)
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return err
}

// waitOrKill waits for the process; if the client goes away first, the whole
// process group is killed, as a runtime would end an exec session.
func waitOrKill(ctx context.Context, cmd *exec.Cmd) error {
	defer running.Delete(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return <-done
	}
}
