package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const (
	claimNamespaceLabel = "testenv.kodama.dev/claim-namespace"
	claimNameLabel      = "testenv.kodama.dev/claim-name"
	// Set by the scheduler on a WaitForFirstConsumer claim once it picked the pod's node.
	selectedNodeAnnotation = "volume.kubernetes.io/selected-node"
)

// runProvisioner gives every Pending claim of our StorageClass a hostPath
// volume pre-bound to it (the PV controller finishes the binding), and
// deletes volume and folder once the claim is gone, so a new claim with the
// same name starts empty. Like the local-path provisioner: with
// WaitForFirstConsumer binding it waits for the scheduler's node choice and
// pins the volume to that node.
func (a *agent) runProvisioner(ctx context.Context) {
	factory := informers.NewSharedInformerFactory(a.kube, 0)
	claims := factory.Core().V1().PersistentVolumeClaims()
	queue := workqueue.NewTypedRateLimitingQueue(retryLimiter())
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			queue.Add(key)
		}
	}
	_, _ = claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	factory.Start(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), claims.Informer().HasSynced)
	log.Printf("provisioner serving StorageClass %s", a.storageClass)
	go func() { <-ctx.Done(); queue.ShutDown() }()
	a.collectOrphans(ctx, claims.Lister().List)
	for {
		key, quit := queue.Get()
		if quit {
			return
		}
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		claim, err := claims.Lister().PersistentVolumeClaims(ns).Get(name)
		if apierrors.IsNotFound(err) {
			err = a.release(ctx, ns, name)
		} else if err == nil {
			err = a.provision(ctx, claim)
		}
		if err != nil {
			log.Printf("claim %s: %v (retrying)", key, err)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

func volumeName(claim *corev1.PersistentVolumeClaim) string {
	return "pvc-" + string(claim.UID)
}

func (a *agent) provision(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != a.storageClass ||
		claim.Spec.VolumeName != "" || claim.Status.Phase != corev1.ClaimPending || claim.DeletionTimestamp != nil {
		return nil
	}
	node := claim.Annotations[selectedNodeAnnotation]
	if node == "" {
		class, err := a.kube.StorageV1().StorageClasses().Get(ctx, a.storageClass, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read StorageClass %s: %w", a.storageClass, err)
		}
		if class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
			return nil // the claim is updated once its pod is scheduled
		}
	}
	name := volumeName(claim)
	if _, err := a.kube.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{}); err == nil {
		return nil // already provisioned, binding in progress
	}
	// Volumes and folder left by an earlier claim of the same name go first.
	if err := a.dropStale(ctx, claim); err != nil {
		return err
	}
	dir := a.claimDir(claim.Namespace, claim.Name)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	_ = os.Chmod(dir, 0o777) // the pod may run as any uid on a real node
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	size, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		size = resource.MustParse("1Gi")
	}
	modes := claim.Spec.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	hostPathType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{claimNamespaceLabel: claim.Namespace, claimNameLabel: claim.Name},
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": a.provisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   modes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain, // we clean up ourselves
			StorageClassName:              a.storageClass,
			VolumeMode:                    claim.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: abs, Type: &hostPathType},
			},
		},
	}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		}}
	}
	if _, err := a.kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create volume: %w", err)
	}
	log.Printf("provisioned %s for %s/%s at %s", name, claim.Namespace, claim.Name, abs)
	return nil
}

func (a *agent) dropStale(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	pvs, err := a.kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{
		LabelSelector: claimNamespaceLabel + "=" + claim.Namespace + "," + claimNameLabel + "=" + claim.Name,
	})
	if err != nil {
		return err
	}
	for _, pv := range pvs.Items {
		if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.UID != claim.UID {
			if err := a.kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// release deletes the volumes of a claim that no longer exists, and its folder.
func (a *agent) release(ctx context.Context, ns, name string) error {
	pvs, err := a.kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{
		LabelSelector: claimNamespaceLabel + "=" + ns + "," + claimNameLabel + "=" + name,
	})
	if err != nil {
		return err
	}
	for _, pv := range pvs.Items {
		if err := a.kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		log.Printf("released %s of %s/%s", pv.Name, ns, name)
	}
	return os.RemoveAll(a.claimDir(ns, name))
}

// collectOrphans releases volumes whose claim vanished while we were down.
func (a *agent) collectOrphans(ctx context.Context, list func(labels.Selector) ([]*corev1.PersistentVolumeClaim, error)) {
	pvs, err := a.kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{LabelSelector: claimNameLabel})
	if err != nil {
		return
	}
	live, named := map[types.UID]bool{}, map[string]bool{}
	all, _ := list(labels.Everything())
	for _, c := range all {
		live[c.UID], named[c.Namespace+"/"+c.Name] = true, true
	}
	for _, pv := range pvs.Items {
		if pv.Spec.ClaimRef != nil && live[pv.Spec.ClaimRef.UID] {
			continue
		}
		_ = a.kube.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
		ns, name := pv.Labels[claimNamespaceLabel], pv.Labels[claimNameLabel]
		if !named[ns+"/"+name] {
			_ = os.RemoveAll(a.claimDir(ns, name))
		}
	}
}
