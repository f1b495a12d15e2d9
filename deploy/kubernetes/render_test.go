// Package kubernetes holds Bulwark's Helm chart and kustomize bases; the
// tests render them offline (the Helm and kustomize Go libraries, no
// cluster) and decode every object strictly into Kubernetes' own types:
// an unknown field fails, and the restricted Pod Security profile, the
// probes, the requests and limits, the volume and the network policy are
// checked. Its own module keeps Helm and kustomize out of the product's.
package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// objects decodes a multi-document YAML stream strictly by kind.
func objects(t *testing.T, stream string) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	for _, doc := range strings.Split(stream, "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
			continue
		}
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("YAML: %v\n%s", err, doc)
		}
		if string(j) == "null" { // comments only
			continue
		}
		var head struct{ Kind string }
		json.Unmarshal(j, &head)
		var obj any
		switch head.Kind {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		case "Service":
			obj = &corev1.Service{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		default:
			obj = &map[string]any{}
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Errorf("%s: %v\n%s", head.Kind, err, doc)
			continue
		}
		out[head.Kind] = append(out[head.Kind], obj)
	}
	return out
}

// checkPod holds a pod template to the restricted Pod Security profile and
// Bulwark's own promises: probes on /-/ready and /-/healthy, requests and
// limits, no service account token, a read-only root filesystem.
func checkPod(t *testing.T, name string, p corev1.PodSpec) {
	t.Helper()
	sc := p.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v", name, sc)
	}
	if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service account token", name)
	}
	if p.HostNetwork || p.HostPID || p.HostIPC {
		t.Errorf("%s shares the host's namespaces", name)
	}
	for _, v := range p.Volumes {
		if v.HostPath != nil {
			t.Errorf("%s mounts a host path", name)
		}
	}
	for _, c := range p.Containers {
		cs := c.SecurityContext
		if cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
			cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL" || len(cs.Capabilities.Add) > 0 {
			t.Errorf("%s/%s: container security context %+v", name, c.Name, cs)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/-/ready" ||
			c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/-/healthy" {
			t.Errorf("%s/%s: probes %+v %+v", name, c.Name, c.ReadinessProbe, c.LivenessProbe)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: requests and limits %+v", name, c.Name, c.Resources)
		}
	}
}

func checkAll(t *testing.T, objs map[string][]any, agents int) {
	t.Helper()
	sts := objs["StatefulSet"]
	if len(sts) != 1 {
		t.Fatalf("%d StatefulSets", len(sts))
	}
	s := sts[0].(*appsv1.StatefulSet)
	checkPod(t, s.Name, s.Spec.Template.Spec)
	if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().IsZero() {
		t.Errorf("the collector has no volume: %+v", s.Spec.VolumeClaimTemplates)
	}
	if len(objs["Deployment"]) != agents {
		t.Errorf("%d agent Deployments, want %d", len(objs["Deployment"]), agents)
	}
	for _, d := range objs["Deployment"] {
		dep := d.(*appsv1.Deployment)
		checkPod(t, dep.Name, dep.Spec.Template.Spec)
	}
	if len(objs["NetworkPolicy"]) != 1 || len(objs["Service"]) != 1 || len(objs["Secret"]) < 1+0 {
		t.Errorf("network policies %d, services %d, secrets %d", len(objs["NetworkPolicy"]), len(objs["Service"]), len(objs["Secret"]))
	}
	for _, c := range objs["ConfigMap"] {
		cm := c.(*corev1.ConfigMap)
		for k, v := range cm.Data {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(v), &m); err != nil {
				t.Errorf("ConfigMap %s/%s is not YAML: %v\n%s", cm.Name, k, err, v)
			}
		}
	}
}

// TestHelmChart renders the chart with two agents and the ServiceMonitor on.
func TestHelmChart(t *testing.T) {
	ch, err := loader.Load("chart/bulwark")
	if err != nil {
		t.Fatal(err)
	}
	over := map[string]any{
		"agents": []any{
			map[string]any{"name": "home-1", "vantage": "home", "token": "t1", "collector": map[string]any{"pull_targets": true},
				"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}, "limits": map[string]any{"cpu": "500m", "memory": "256Mi"}}},
			map[string]any{"name": "abroad-1", "vantage": "abroad", "token": "t2", "collector": map[string]any{"pull_targets": true},
				"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}, "limits": map[string]any{"cpu": "500m", "memory": "256Mi"}}},
		},
		"serviceMonitor": map[string]any{"enabled": true},
	}
	vals, err := chartutil.ToRenderValues(ch, over, chartutil.ReleaseOptions{Name: "bw", Namespace: "bulwark", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	var stream strings.Builder
	for name, body := range files {
		if strings.HasSuffix(name, ".yaml") {
			fmt.Fprintf(&stream, "\n---\n%s", body)
		}
	}
	objs := objects(t, stream.String())
	checkAll(t, objs, 2)
	checkConfigs(t, objs, nil)
	sm := objs["ServiceMonitor"]
	if len(sm) != 1 {
		t.Errorf("ServiceMonitor: %v", sm)
	}
	for _, c := range objs["ConfigMap"] {
		cm := c.(*corev1.ConfigMap)
		if y, ok := cm.Data["bulwark.yml"]; ok && (!strings.Contains(y, "id: home-1") || !strings.Contains(y, "id: abroad-1")) {
			t.Errorf("the collector's configuration lacks the agents:\n%s", y)
		}
	}
}

// TestKustomize renders the production overlay over the base.
func TestKustomize(t *testing.T) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), "kustomize/overlays/production")
	if err != nil {
		t.Fatal(err)
	}
	y, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, string(y))
	checkAll(t, objs, 1)
	if n := checkConfigs(t, objs, nil); n != 2 {
		t.Errorf("%d configuration files checked, want 2", n)
	}
	s := objs["StatefulSet"][0].(*appsv1.StatefulSet)
	if s.Namespace != "bulwark" || s.Spec.Template.Spec.Containers[0].Image != "registry.cert.example/bulwark:0.1.0" {
		t.Errorf("overlay not applied: namespace %q, image %q", s.Namespace, s.Spec.Template.Spec.Containers[0].Image)
	}
}
