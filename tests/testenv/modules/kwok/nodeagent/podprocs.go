package main

// The processes of a pod. A kubelet kills every process of a pod's containers
// when the pod goes; here exec runs host processes, and the ones that
// daemonize (tmux servers, what runs inside them) would outlive the pod. So
// every exec'd process carries the pod's UID in its environment (children
// inherit it), and the agent ends the pod's processes by scanning /proc for
// that marker: process groups and parents do not matter.
//
// Termination follows a kubelet: when the pod gets its deletionTimestamp the
// processes get SIGTERM, then SIGKILL after min(grace period, 5s); then the
// agent sets TerminatedAnnotation, which kwok's delete stage waits for before
// removing the pod object.

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
)

const (
	// PodUIDMarker names the environment variable holding the pod's UID.
	PodUIDMarker = "KODAMA_TESTENV_POD_UID"
	// PodMarker holds <namespace>/<name> of the pod (for humans and tests).
	PodMarker = "KODAMA_TESTENV_POD"
	// TerminatedAnnotation (value: the pod UID) tells kwok's delete stage
	// that the pod's processes are gone.
	TerminatedAnnotation = "testenv.kodama.dev/terminated"
	// maxGrace caps the pod's grace period between SIGTERM and SIGKILL.
	maxGrace = 5 * time.Second
	// sweepEvery is how often processes of pods that no longer exist are killed.
	sweepEvery = 15 * time.Second
)

// terminating holds the UIDs of pods whose processes are being (or have been)
// ended; exec into them is refused, as into a terminated container.
var terminating sync.Map

type taggedProc struct {
	pid int
	uid string // "" for processes of an agent that did not tag UIDs
	pod string // <namespace>/<name>
}

// taggedProcesses lists the processes started through this plane's exec:
// those whose environment holds ExecMarker=<state dir>.
func (a *agent) taggedProcesses() []taggedProc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	exec := []byte(ExecMarker + "=" + a.stateDir)
	uidPrefix := []byte(PodUIDMarker + "=")
	podPrefix := []byte(PodMarker + "=")
	self := os.Getpid()
	var out []taggedProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, exec) {
			continue
		}
		p := taggedProc{pid: pid}
		mine := false
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, exec) {
				mine = true
			} else if rest, ok := bytes.CutPrefix(kv, uidPrefix); ok {
				p.uid = string(rest)
			} else if rest, ok := bytes.CutPrefix(kv, podPrefix); ok {
				p.pod = string(rest)
			}
		}
		if mine {
			out = append(out, p)
		}
	}
	return out
}

// signalPod sends sig to every process of the pod; it returns how many there were.
func (a *agent) signalPod(uid types.UID, sig syscall.Signal) int {
	n := 0
	for _, p := range a.taggedProcesses() {
		if p.uid == string(uid) {
			if syscall.Kill(p.pid, sig) == nil {
				n++
			}
		}
	}
	return n
}

// isZombieOrGone: a zombie has ended; only its parent's wait is missing.
func isZombieOrGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// podAlive reports whether a process of the pod still runs.
func (a *agent) podAlive(uid types.UID) bool {
	for _, p := range a.taggedProcesses() {
		if p.uid == string(uid) && !isZombieOrGone(p.pid) {
			return true
		}
	}
	return false
}

// killPodProcesses ends the pod's processes: SIGTERM, then SIGKILL once the
// grace period is over. It returns when none is left (or after a last try).
func (a *agent) killPodProcesses(ctx context.Context, uid types.UID, grace time.Duration, who string) {
	if grace > maxGrace {
		grace = maxGrace
	}
	start := time.Now()
	n := 0
	if grace > 0 {
		n = a.signalPod(uid, syscall.SIGTERM)
		for deadline := start.Add(grace); n > 0 && time.Now().Before(deadline) && a.podAlive(uid); {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	killed := 0
	for i := 0; i < 20 && a.podAlive(uid); i++ { // a fork may race the scan: repeat
		killed += a.signalPod(uid, syscall.SIGKILL)
		time.Sleep(50 * time.Millisecond)
	}
	if n > 0 || killed > 0 {
		log.Printf("pod %s (%s): ended its processes (%d got SIGTERM, %d SIGKILL) in %v",
			who, uid, n, killed, time.Since(start).Round(time.Millisecond))
	}
}

// terminatePod runs once per terminating pod (in its own goroutine): ends its
// processes, then lets kwok remove the pod object.
func (a *agent) terminatePod(ctx context.Context, pod *corev1.Pod) {
	if _, dup := terminating.LoadOrStore(pod.UID, struct{}{}); dup {
		return
	}
	who := pod.Namespace + "/" + pod.Name
	grace := 30 * time.Second
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	} else if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	a.killPodProcesses(ctx, pod.UID, grace, who)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{TerminatedAnnotation: string(pod.UID)},
		// Only for this very pod: a recreated one has another UID.
		"uid": string(pod.UID),
	}})
	for i := 0; ctx.Err() == nil; i++ {
		_, err := a.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsInvalid(err) {
			return
		}
		if i == 10 {
			log.Printf("pod %s: cannot mark it terminated: %v (kwok's fallback deletes it later)", who, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// podGone handles a pod object that disappeared without our termination (a
// forced deletion, or one missed while the agent was down): SIGKILL at once.
func (a *agent) podGone(ctx context.Context, uid types.UID, who string) {
	terminating.Store(uid, struct{}{})
	a.killPodProcesses(ctx, uid, 0, who)
}

// killPredecessors kills what is left of earlier pods of the same name (a
// forced deletion removes the object at once; its processes die a moment
// later, on the delete event): a recreated pod never meets them.
func (a *agent) killPredecessors(pod *corev1.Pod) {
	who := pod.Namespace + "/" + pod.Name
	var pids []int
	for _, p := range a.taggedProcesses() {
		if p.pod == who && p.uid != string(pod.UID) && !isZombieOrGone(p.pid) {
			pids = append(pids, p.pid)
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	if len(pids) > 0 {
		log.Printf("pod %s: killed processes of an earlier pod of that name: %v", who, pids)
	}
}

// sweep kills tagged processes of pods that are not on the node any more
// (left by a previous run of the plane, or by a pod deleted while the agent
// was down), and untagged ones from an older agent.
func (a *agent) sweep(ctx context.Context, pods corelisters.PodLister) {
	// Processes first, pods second: a pod is in the lister before any
	// process of it can exist, so a UID missing from the later list is gone.
	procs := a.taggedProcesses()
	list, err := pods.List(labels.Everything())
	if err != nil {
		return
	}
	live := map[string]bool{}
	for _, p := range list {
		live[string(p.UID)] = true
	}
	var orphans []int
	for _, p := range procs {
		if !live[p.uid] && !isZombieOrGone(p.pid) {
			orphans = append(orphans, p.pid)
		}
	}
	for _, pid := range orphans {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(orphans) > 0 {
		log.Printf("killed %d exec'd processes of pods that no longer exist: %v", len(orphans), orphans)
	}
}

func (a *agent) runSweeper(ctx context.Context, pods corelisters.PodLister) {
	for {
		a.sweep(ctx, pods)
		select {
		case <-ctx.Done():
			return
		case <-time.After(sweepEvery):
		}
	}
}

// runReaper makes the agent what a container's init is for its processes: a
// child subreaper. Daemons of exec (parent gone) are re-parented to the agent,
// which collects them as soon as they end, so a killed process never lingers
// as a zombie (kill -0 says a zombie is alive; the host's init may be slow to
// reap, or be no init at all in a container).
func runReaper(ctx context.Context) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		log.Printf("cannot become a child subreaper: %v", errno)
		return
	}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	for {
		reapOrphans()
		select {
		case <-ctx.Done():
			return
		case <-sigchld:
		case <-time.After(2 * time.Second):
		}
	}
}

// reapOrphans collects ended children that are not exec sessions (those are
// cmd.Wait's).
func reapOrphans() {
	startMu.Lock()
	defer startMu.Unlock()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'Z' {
			continue
		}
		fields := bytes.Fields(b[i+2:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(string(fields[1])); ppid != self {
			continue
		}
		if _, ours := running.Load(pid); ours {
			continue
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
}
