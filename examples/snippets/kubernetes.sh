# A Job and an Argo template for a step, from its policy (examples/kubernetes/job.yaml
# and examples/argo/template.yaml are exactly this output):
backstop export kubernetes --policy examples/orchestrators.toml --name nightly-extract --step extract -- python -m pipeline.extract > job.yaml
backstop export argo --policy examples/orchestrators.toml --step extract -- python -m pipeline.extract > template.yaml
# Then: kubectl create configmap backstop-policy --from-file=examples/orchestrators.toml
#       kubectl create secret generic backstop-state --from-literal=url=postgres://...
#       kubectl apply -f job.yaml
# What the Job's pods run, one attempt each, sharing only the state store:
run="nightly-$(date +%s)"
for pod in 1 2 3 4; do
    backstop run --one-attempt --run-id "$run" --step extract --policy examples/orchestrators.toml -- examples/flaky-step.sh 2 && status=0 || status=$?
    echo "pod $pod: exit $status"
done
#   pod 1: exit 75
#   pod 2: exit 75
#   pod 3: exit 0
#   pod 4: exit 0
