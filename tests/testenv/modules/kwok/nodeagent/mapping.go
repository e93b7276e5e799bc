package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	kwokv1 "sigs.k8s.io/kwok/pkg/apis/v1alpha1"
)

// runPodMapper keeps one kwok Exec object per pod on the simulated node.
func (a *agent) runPodMapper(ctx context.Context) {
	factory := informers.NewSharedInformerFactoryWithOptions(a.kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.nodeName).String()
		}))
	pods := factory.Core().V1().Pods()
	queue := workqueue.NewTypedRateLimitingQueue(retryLimiter())
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			queue.Add(key)
		}
	}
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			enqueue(obj)
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok { // deleted without our termination (forced): kill now
				go a.podGone(ctx, pod.UID, pod.Namespace+"/"+pod.Name)
			}
		},
	})
	factory.Start(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), pods.Informer().HasSynced)
	log.Printf("pod mapper watching node %s", a.nodeName)
	// Processes of pods that are gone (a previous run of the plane, say).
	go a.runSweeper(ctx, pods.Lister())
	go func() { <-ctx.Done(); queue.ShutDown() }()
	seen := map[string]types.UID{}
	for {
		key, quit := queue.Get()
		if quit {
			return
		}
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		pod, err := pods.Lister().Pods(ns).Get(name)
		if apierrors.IsNotFound(err) {
			err = a.forgetPod(ctx, ns, name, seen[key])
			delete(seen, key)
		} else if err == nil && pod.DeletionTimestamp != nil {
			if pod.Annotations[TerminatedAnnotation] != string(pod.UID) {
				go a.terminatePod(ctx, pod.DeepCopy())
			}
		} else if err == nil {
			err = a.mapPod(ctx, pod)
			if err == nil {
				seen[key] = pod.UID
			}
		}
		if err != nil {
			log.Printf("pod %s: %v (retrying)", key, err)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

// mapPod writes the pod's volumes to host folders, records the exec mapping
// and then marks the pod ready for kwok's readiness stage. Idempotent.
func (a *agent) mapPod(ctx context.Context, pod *corev1.Pod) error {
	if pod.DeletionTimestamp != nil || pod.Annotations[ReadyAnnotation] == string(pod.UID) {
		return nil
	}
	volumes, err := a.materializeVolumes(ctx, pod)
	if err != nil {
		return err
	}
	exec := &kwokv1.Exec{
		ObjectMeta: metav1.ObjectMeta{
			Name:      pod.Name,
			Namespace: pod.Namespace,
			Labels:    map[string]string{"app.kubernetes.io/managed-by": "kodama-testenv"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
			}},
		},
	}
	for _, c := range pod.Spec.Containers {
		local, err := a.containerTarget(ctx, pod, &c, volumes)
		if err != nil {
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
		exec.Spec.Execs = append(exec.Spec.Execs, kwokv1.ExecTarget{Containers: []string{c.Name}, Local: local})
	}
	execs := a.kwok.KwokV1alpha1().Execs(pod.Namespace)
	current, err := execs.Get(ctx, pod.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = execs.Create(ctx, exec, metav1.CreateOptions{})
	case err == nil:
		exec.ResourceVersion = current.ResourceVersion
		_, err = execs.Update(ctx, exec, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("exec object: %w", err)
	}
	a.killPredecessors(pod)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{ReadyAnnotation: string(pod.UID)},
	}})
	_, err = a.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err == nil {
		log.Printf("pod %s/%s mapped", pod.Namespace, pod.Name)
	}
	return err
}

// forgetPod removes the Exec object of a deleted pod, unless a pod with the
// same name (another UID) already owns it, and the pod's own folders.
func (a *agent) forgetPod(ctx context.Context, ns, name string, uid types.UID) error {
	execs := a.kwok.KwokV1alpha1().Execs(ns)
	exec, err := execs.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		refs := exec.OwnerReferences
		if uid == "" || len(refs) == 0 || refs[0].UID == uid {
			execUID := exec.UID
			err = execs.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &execUID}})
		} else {
			return nil // recreated meanwhile: its folders are in use again
		}
	}
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return os.RemoveAll(a.podDir(ns, name))
}

func (a *agent) podDir(ns, pod string) string {
	return filepath.Join(a.stateDir, "volumes", ns, "pods", pod)
}

// ClaimDir is where the volume bound to a claim lives on the host.
func (a *agent) claimDir(ns, claim string) string {
	return filepath.Join(a.stateDir, "volumes", ns, claim)
}

// materializeVolumes returns the host folder of every volume of the pod,
// writing out the content of Secret and ConfigMap volumes.
func (a *agent) materializeVolumes(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	dirs := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			dirs[v.Name] = a.claimDir(pod.Namespace, v.PersistentVolumeClaim.ClaimName)
			if err := os.MkdirAll(dirs[v.Name], 0o755); err != nil {
				return nil, err
			}
			continue
		}
		dir := filepath.Join(a.podDir(pod.Namespace, pod.Name), v.Name)
		dirs[v.Name] = dir
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var files map[string][]byte
		var err error
		switch {
		case v.Secret != nil:
			files, err = a.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
		case v.ConfigMap != nil:
			files, err = a.configMapFiles(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
		case v.Projected != nil:
			files = map[string][]byte{}
			for _, src := range v.Projected.Sources {
				var part map[string][]byte
				switch {
				case src.Secret != nil:
					part, err = a.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional)
				case src.ConfigMap != nil:
					part, err = a.configMapFiles(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional)
				}
				if err != nil {
					break
				}
				for k, b := range part {
					files[k] = b
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		for rel, data := range files {
			path := filepath.Join(dir, filepath.Clean("/"+rel))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				return nil, err
			}
			_ = os.Chmod(path, 0o600)
		}
	}
	return dirs, nil
}

func pick(data map[string][]byte, items []corev1.KeyToPath) (map[string][]byte, error) {
	if len(items) == 0 {
		return data, nil
	}
	out := map[string][]byte{}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("key %q not found", it.Key)
		}
		out[it.Path] = b
	}
	return out, nil
}

func (a *agent) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool) (map[string][]byte, error) {
	s, err := a.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional != nil && *optional {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return pick(s.Data, items)
}

func (a *agent) configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool) (map[string][]byte, error) {
	cm, err := a.kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional != nil && *optional {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("configmap %s: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return pick(data, items)
}

type mount struct{ path, host string }

// containerTarget derives the local working directory and environment of one
// container: what a kubelet would give it, with every path under a volume
// mount moved to that volume's host folder.
func (a *agent) containerTarget(ctx context.Context, pod *corev1.Pod, c *corev1.Container, volumes map[string]string) (*kwokv1.ExecTargetLocal, error) {
	var mounts []mount
	for _, m := range c.VolumeMounts {
		host, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("mount of unknown volume %q", m.Name)
		}
		if m.SubPath != "" {
			host = filepath.Join(host, filepath.Clean("/"+m.SubPath))
			if err := os.MkdirAll(host, 0o755); err != nil {
				return nil, err
			}
		}
		mounts = append(mounts, mount{filepath.Clean(m.MountPath), host})
	}
	// Deepest mount first, so /home/kodama/.cache wins over /home/kodama.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].path) > len(mounts[j].path) })
	toHost := func(p string) string {
		if !strings.HasPrefix(p, "/") {
			return p
		}
		clean := filepath.Clean(p)
		for _, m := range mounts {
			if clean == m.path {
				return m.host
			}
			if rest, ok := strings.CutPrefix(clean, m.path+"/"); ok {
				return filepath.Join(m.host, rest)
			}
			if m.path == "/" {
				return filepath.Join(m.host, clean)
			}
		}
		return p
	}

	env, err := a.resolveEnv(ctx, pod, c)
	if err != nil {
		return nil, err
	}
	scratch := filepath.Join(a.podDir(pod.Namespace, pod.Name), "_"+c.Name)
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, err
	}
	local := &kwokv1.ExecTargetLocal{WorkDir: scratch}
	if c.WorkingDir != "" {
		local.WorkDir = toHost(c.WorkingDir)
	}
	if err := os.MkdirAll(local.WorkDir, 0o755); err != nil {
		return nil, err
	}
	hasHome := false
	for _, e := range env {
		if e.Name == "PATH" { // image PATHs mean nothing on the host
			continue
		}
		hasHome = hasHome || e.Name == "HOME"
		local.Envs = append(local.Envs, kwokv1.EnvVar{Name: e.Name, Value: toHost(e.Value)})
	}
	base := []kwokv1.EnvVar{{Name: "PATH", Value: os.Getenv("PATH")}, {Name: "HOSTNAME", Value: pod.Name}}
	if !hasHome {
		base = append(base, kwokv1.EnvVar{Name: "HOME", Value: scratch})
	}
	local.Envs = append(base, local.Envs...)
	return local, nil
}

var refPattern = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$`)

// resolveEnv computes a container's environment as a kubelet does: envFrom
// first, then env in order, with valueFrom resolved and $(VAR) expanded.
func (a *agent) resolveEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]corev1.EnvVar, error) {
	var out []corev1.EnvVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, corev1.EnvVar{Name: name, Value: value})
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.SecretRef != nil:
			s, err := a.kube.CoreV1().Secrets(pod.Namespace).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && from.SecretRef.Optional != nil && *from.SecretRef.Optional {
					continue
				}
				return nil, fmt.Errorf("envFrom secret %s: %w", from.SecretRef.Name, err)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		case from.ConfigMapRef != nil:
			cm, err := a.kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("envFrom configmap %s: %w", from.ConfigMapRef.Name, err)
			}
			data = cm.Data
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		return "", false
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			value := refPattern.ReplaceAllStringFunc(e.Value, func(m string) string {
				if m == "$$" {
					return "$"
				}
				if v, ok := lookup(m[2 : len(m)-1]); ok {
					return v
				}
				return m
			})
			set(e.Name, value)
			continue
		}
		value, skip, err := a.valueFrom(ctx, pod, c, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, value)
		}
	}
	return out, nil
}

func (a *agent) valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := a.kube.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := s.Data[ref.Key]; ok {
				return string(v), false, nil
			}
			err = fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", true, nil
		}
		return "", false, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := a.kube.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, false, nil
			}
			err = fmt.Errorf("configmap %s has no key %q", ref.Name, ref.Key)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", true, nil
		}
		return "", false, err
	case src.FieldRef != nil:
		switch path := src.FieldRef.FieldPath; {
		case path == "metadata.name":
			return pod.Name, false, nil
		case path == "metadata.namespace":
			return pod.Namespace, false, nil
		case path == "metadata.uid":
			return string(pod.UID), false, nil
		case path == "spec.nodeName":
			return pod.Spec.NodeName, false, nil
		case path == "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, false, nil
		case path == "status.podIP":
			return pod.Status.PodIP, false, nil
		case path == "status.hostIP":
			return "127.0.0.1", false, nil
		case strings.HasPrefix(path, "metadata.labels['"):
			return pod.Labels[strings.TrimSuffix(strings.TrimPrefix(path, "metadata.labels['"), "']")], false, nil
		case strings.HasPrefix(path, "metadata.annotations['"):
			return pod.Annotations[strings.TrimSuffix(strings.TrimPrefix(path, "metadata.annotations['"), "']")], false, nil
		}
		return "", true, nil
	}
	return "", true, nil // resourceFieldRef and the like: not simulated
}
