# Read a file from object storage, retrying 503s under the nightly policy.
# From the repository root, after `pip install ./python`:
#   DATA_URL=http://... python examples/snippets/retry.py
import os
import urllib.request

from backstop import load_policy_file, retry

policy = load_policy_file("examples/nightly.toml")
url = os.environ.get("DATA_URL", "http://127.0.0.1:8000/part-0.csv")


@retry(policy, idempotency_key=lambda run_id: f"{run_id}/extract")
def extract(run_id: str) -> bytes:
    # urllib raises HTTPError for a 503; backstop reads its status and retries.
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


print(extract("nightly-2024-01-01").decode())
print(policy.classify_exception(ConnectionResetError()))
