// Package manifests checks the golden files that `backstop export` writes
// (examples/kubernetes, examples/argo) against the projects' own Go types,
// decoded strictly (an unknown or misspelt field fails), and evaluates the
// Argo retry expression with Argo's own evaluator.
package manifests

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/expr/argoexpr"
	"github.com/argoproj/argo-workflows/v3/util/expr/env"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The statuses of `backstop run --one-attempt` (host/src/cli/exit.rs).
const (
	retryMe   = 75
	permanent = 65
	gaveUp    = 66
)

func decode(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestKubernetesJob(t *testing.T) {
	var job batchv1.Job
	decode(t, "examples/kubernetes/job.yaml", &job)
	if job.APIVersion != "batch/v1" || job.Kind != "Job" {
		t.Fatalf("not a batch/v1 Job: %s %s", job.APIVersion, job.Kind)
	}
	spec := job.Spec
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatalf("podFailurePolicy needs restartPolicy Never, got %q", spec.Template.Spec.RestartPolicy)
	}
	if spec.BackoffLimit == nil || *spec.BackoffLimit != 3 {
		t.Fatalf("backoffLimit should be the policy's 4 attempts - 1: %v", spec.BackoffLimit)
	}
	if spec.PodFailurePolicy == nil || len(spec.PodFailurePolicy.Rules) != 3 {
		t.Fatalf("want 3 podFailurePolicy rules: %+v", spec.PodFailurePolicy)
	}
	container := spec.Template.Spec.Containers[0]
	rules := spec.PodFailurePolicy.Rules
	// The first rule matching a failed pod decides; simulate the API's matching.
	action := func(exitCode int32, disrupted bool) batchv1.PodFailurePolicyAction {
		for _, r := range rules {
			if r.OnExitCodes != nil {
				if r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != container.Name {
					t.Fatalf("rule names container %q, the Job has %q", *r.OnExitCodes.ContainerName, container.Name)
				}
				in := slices.Contains(r.OnExitCodes.Values, exitCode)
				if (r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
					return r.Action
				}
			}
			for _, c := range r.OnPodConditions {
				if c.Type == corev1.DisruptionTarget && disrupted {
					return r.Action
				}
			}
		}
		return batchv1.PodFailurePolicyActionCount
	}
	cases := []struct {
		code      int32
		disrupted bool
		want      batchv1.PodFailurePolicyAction
	}{
		{retryMe, false, batchv1.PodFailurePolicyActionCount},
		{permanent, false, batchv1.PodFailurePolicyActionFailJob},
		{gaveUp, false, batchv1.PodFailurePolicyActionFailJob},
		{74, false, batchv1.PodFailurePolicyActionCount},
		{143, true, batchv1.PodFailurePolicyActionIgnore},
	}
	for _, c := range cases {
		if got := action(c.code, c.disrupted); got != c.want {
			t.Errorf("exit %d (disrupted %v): %s, want %s", c.code, c.disrupted, got, c.want)
		}
	}
	if container.Command[0] != "backstop" || !slices.Contains(container.Command, "--one-attempt") {
		t.Errorf("the command is not wrapped in backstop run --one-attempt: %v", container.Command)
	}
	checkPolicyMount(t, container, spec.Template.Spec.Volumes)
}

// checkPolicyMount: the container's --policy file lies in a directory mounted
// from a ConfigMap volume of the pod (or Argo template).
func checkPolicyMount(t *testing.T, container corev1.Container, volumes []corev1.Volume) {
	t.Helper()
	i := slices.Index(container.Command, "--policy")
	if i < 0 || i+1 >= len(container.Command) {
		t.Fatalf("no --policy in %v", container.Command)
	}
	policy := container.Command[i+1]
	for _, m := range container.VolumeMounts {
		if filepath.Dir(policy) != m.MountPath {
			continue
		}
		for _, v := range volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name != "" {
				return
			}
		}
		t.Fatalf("mount %q of %s is no ConfigMap volume: %+v", m.Name, m.MountPath, volumes)
	}
	t.Fatalf("the policy %s is in no mounted directory: %+v", policy, container.VolumeMounts)
}

func TestArgoTemplate(t *testing.T) {
	var tmpl wfv1.Template
	decode(t, "examples/argo/template.yaml", &tmpl)
	rs := tmpl.RetryStrategy
	if rs == nil || rs.Limit == nil || rs.Limit.IntValue() != 3 {
		t.Fatalf("retryStrategy.limit should be the policy's 4 attempts - 1: %+v", rs)
	}
	if rs.RetryPolicyActual() != wfv1.RetryPolicyAlways {
		t.Fatalf("retryPolicy %q, want Always (the expression decides)", rs.RetryPolicy)
	}
	// examples/orchestrators.toml: waits of 20, 40, 80 ms with equal jitter,
	// so the planner may wait as little as 10, 20, 40 ms: Argo's own backoff
	// (duration * factor^(retry-1)) must not wait longer than that.
	if rs.Backoff == nil {
		t.Fatal("no backoff")
	}
	base, err := wfv1.ParseStringToDuration(rs.Backoff.Duration)
	if err != nil {
		t.Fatalf("backoff.duration: %v", err)
	}
	factor := 1
	if rs.Backoff.Factor != nil {
		factor = rs.Backoff.Factor.IntValue()
	}
	wait := base
	for i, floor := range []time.Duration{10, 20, 40} {
		if wait > floor*time.Millisecond {
			t.Errorf("retry %d: Argo waits %v, above the planner's shortest %v", i+1, wait, floor*time.Millisecond)
		}
		wait *= time.Duration(factor)
	}
	if tmpl.Container == nil {
		t.Fatal("no container")
	}
	checkPolicyMount(t, *tmpl.Container, tmpl.Volumes)
	// Argo's own evaluation of the expression, with the scope it builds.
	retries := func(exitCode, status string) bool {
		scope := env.GetFuncMap(map[string]any{
			// workflow/common's LocalVarRetries* (that package pulls in client-go).
			"retries":            "0",
			"lastRetry.exitCode": exitCode,
			"lastRetry.status":   status,
		})
		ok, err := argoexpr.EvalBool(rs.Expression, scope)
		if err != nil {
			t.Fatalf("expression %q: %v", rs.Expression, err)
		}
		return ok
	}
	cases := []struct {
		exitCode, status string
		want             bool
	}{
		{"75", "Failed", true},
		{"65", "Failed", false},
		{"66", "Failed", false},
		{"1", "Failed", false},
		{"74", "Failed", false},
		{"-1", "Error", true}, // the pod was lost (evicted, deleted)
		{"143", "Error", true},
		{"65", "Error", false},
	}
	for _, c := range cases {
		if got := retries(c.exitCode, c.status); got != c.want {
			t.Errorf("exit %s status %s: retries %v, want %v", c.exitCode, c.status, got, c.want)
		}
	}
}
