// Command nodeagent is the host side of the test control plane's simulated
// node. kwok fakes the node and the pod lifecycle; this agent does the rest a
// kubelet would do for Kodama's tests:
//
//   - provisions a hostPath PersistentVolume for every Pending claim of the
//     testenv StorageClass, under <state>/volumes/<namespace>/<claim>;
//   - for every pod bound to the node, maps its volumes onto host folders
//     (Secret/ConfigMap volumes are written out), derives the working
//     directory and environment of each container, records them in a kwok
//     Exec object named after the pod, then marks the pod so that kwok's
//     readiness stage may report it Ready;
//   - serves the kubelet's /exec endpoint for the API server, running the
//     command as a local process as described by that Exec object, and
//     reporting its exit code (kwok v0.8's own server loses non-zero codes);
//   - tags every exec'd process with its pod and ends a pod's processes when
//     the pod is deleted (SIGTERM, then SIGKILL), before kwok removes the pod
//     object; it reaps them as a container's init would (podprocs.go).
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	kwokclient "sigs.k8s.io/kwok/pkg/client/clientset/versioned"
)

// ReadyAnnotation is set on a pod once its Exec object exists; the pod
// readiness stage given to kwok waits for it, so nobody can exec too early.
const ReadyAnnotation = "testenv.kodama.dev/exec-ready"

type agent struct {
	kube         kubernetes.Interface
	kwok         kwokclient.Interface
	nodeName     string
	stateDir     string // holds volumes/
	storageClass string
	provisioner  string
}

func main() {
	var (
		kubeconfig = flag.String("kubeconfig", "", "admin kubeconfig")
		listen     = flag.String("listen", "127.0.0.1:16450", "address of the kubelet-like exec server")
		certFile   = flag.String("tls-cert-file", "", "serving certificate")
		keyFile    = flag.String("tls-key-file", "", "serving key")
		clientCA   = flag.String("client-ca-file", "", "CA that signs the API server's kubelet client certificate")
		a          agent
	)
	flag.StringVar(&a.nodeName, "node-name", "kodama-testenv-node", "simulated node to serve")
	flag.StringVar(&a.stateDir, "state-dir", ".testenv", "state folder; volumes live in <state-dir>/volumes")
	flag.StringVar(&a.storageClass, "storage-class", "kodama-testenv", "StorageClass whose claims are provisioned")
	flag.StringVar(&a.provisioner, "provisioner", "testenv.kodama.dev/hostpath", "provisioner name recorded on volumes")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	a.kube = kubernetes.NewForConfigOrDie(cfg)
	a.kwok = kwokclient.NewForConfigOrDie(cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	go runReaper(ctx)
	go a.runProvisioner(ctx)
	go a.runPodMapper(ctx)
	err = a.serve(ctx, *listen, *certFile, *keyFile, *clientCA)
	killSessions()
	if err != nil {
		log.Fatalf("exec server: %v", err)
	}
}

// retryLimiter retries failed work quickly and then every few seconds, as a
// kubelet does for a pod whose Secret does not exist yet.
func retryLimiter() workqueue.TypedRateLimiter[string] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 5*time.Second)
}
