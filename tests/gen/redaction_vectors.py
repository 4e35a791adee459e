#!/usr/bin/env python3
"""Write tests/vectors/redaction-*.json: the redaction corpus.

Expectations are written by hand with markers, not taken from the Rust core:
in each case text, «...» marks a secret. The input is the text without the
markers; the expected output replaces each marked span with [REDACTED]. Each
positive names the rule id that must report it (and how many times).
Token bodies are generated from a fixed seed, so the corpus is reproducible.

    python3 tests/gen/redaction_vectors.py
"""

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "vectors"
rng = random.Random(20261206)

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = UPPER.lower()
DIGITS = "0123456789"
ALNUM = UPPER + LOWER + DIGITS
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def rand(chars, n):
    s = "".join(rng.choice(chars) for _ in range(n))
    # Real tokens mix letters and digits; end with one of each when the
    # alphabet has both, so no case depends on the luck of the draw.
    letters = [c for c in chars if c.isalpha()]
    digits = [c for c in chars if c.isdigit()]
    if n > 4 and letters and digits:
        s = s[:-2] + rng.choice(letters) + rng.choice(digits)
    return s


def case(name, marked, rules=None):
    """A positive (when `rules` is given) or a negative (no markers) case."""
    text = marked.replace("«", "").replace("»", "")
    expected = re.sub("«[^»]*»", "[REDACTED]", marked)
    if rules is None:
        assert "«" not in marked
        rules = {}
    elif isinstance(rules, str):
        rules = {rules: marked.count("«")}
    return {
        "name": name,
        "redact": text,
        "expect": {
            "text": expected,
            "redactions": [{"rule": r, "count": n} for r, n in rules.items()],
        },
    }


def pem(kind="RSA PRIVATE KEY", lines=6):
    body = "\n".join(rand(B64, 64) for _ in range(lines)) + "\n" + rand(B64, 24) + "=="
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def cloud():
    aws_id = lambda p="AKIA": p + rand(UPPER + "234567", 16)
    aws_secret = lambda: rand(ALNUM + "/+", 40)
    gcp_key = lambda: "AIza" + rand(URLSAFE, 35)
    cases = []
    for i, (prefix, line) in enumerate(
        [
            ("AKIA", "botocore.credentials: using access key «{}» from env"),
            ("ASIA", "export AWS_ACCESS_KEY_ID=«{}»"),
            ("AKIA", "  File \"s3.py\", line 12: client = boto3.client('s3', aws_access_key_id='«{}»')"),
            ("ABIA", "[profile ci] key «{}» rotated 3 days ago"),
            ("AKIA", "https://bucket.s3.amazonaws.com/x?X-Amz-Credential=«{}%2F20240101%2Fus-east-1»"),
        ]
    ):
        cases.append(case(f"aws access key id {i}", line.replace("{}", aws_id(prefix)), "aws-access-key-id"))
    cases += [
        case("aws secret in env", f"AWS_SECRET_ACCESS_KEY=«{aws_secret()}»", "aws-secret-access-key"),
        case("aws secret in credentials file", f"aws_secret_access_key = «{aws_secret()}»", "aws-secret-access-key"),
        case("aws secret in json", f'{{"AwsSecretKey": "«{aws_secret()}»", "region": "us-east-1"}}', "aws-secret-access-key"),
        case("aws secret yaml", f"  aws_secret_key: «{aws_secret()}»", "aws-secret-access-key"),
        case(
            "aws id and secret on one line",
            f"creds: id=«{aws_id()}» AWS_SECRET_ACCESS_KEY=«{aws_secret()}»",
            {"aws-access-key-id": 1, "aws-secret-access-key": 1},
        ),
        case("aws session token", f"AWS_SESSION_TOKEN=«{rand(B64, 180)}»", "key-value-secret"),
        case("gcp api key", f"requests.get('https://maps.googleapis.com/maps/api/geocode/json?address=x&key=«{gcp_key()}»')", "gcp-api-key"),
        case("gcp api key bare", f"GOOGLE_API_KEY «{gcp_key()}» loaded", "gcp-api-key"),
        case("gcp api key in yaml", f"gemini:\n  api_key: «{gcp_key()}»\n  model: gemini-1.5", "gcp-api-key"),
        case("gcp oauth client secret", f"client_id=123.apps.googleusercontent.com client «GOCSPX-{rand(URLSAFE, 28)}»", "gcp-oauth-client-secret"),
        case("gcp oauth access token", f"token refreshed: «ya29.{rand(URLSAFE, 120)}» expires in 3599s", "gcp-oauth-access-token"),
        case(
            "gcp service account json (one line)",
            '{"type": "service_account", "project_id": "ml-prod", "private_key_id": "«'
            + rand("0123456789abcdef", 40)
            + '»", "private_key": "«-----BEGIN PRIVATE KEY-----\\n'
            + rand(B64, 64)
            + "\\n"
            + rand(B64, 64)
            + '\\n-----END PRIVATE KEY-----\\n»", "client_email": "trainer@ml-prod.iam.gserviceaccount.com"}',
            {"private-key": 1, "gcp-service-account-key-id": 1},
        ),
        case(
            "gcp service account json (pretty)",
            '{\n  "type": "service_account",\n  "private_key_id": "«'
            + rand("0123456789abcdef", 40)
            + '»",\n  "client_email": "etl@data.iam.gserviceaccount.com"\n}',
            "gcp-service-account-key-id",
        ),
        case(
            "azure storage connection string",
            f"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=mlartifacts;AccountKey=«{rand(B64, 86)}==»;EndpointSuffix=core.windows.net",
            "azure-storage-key",
        ),
        case(
            "azure service bus connection string",
            f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=«{rand(B64, 43)}=»",
            "azure-storage-key",
        ),
        case(
            "azure sas url",
            f"upload failed: https://acct.blob.core.windows.net/c/model.pt?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2026-01-01&sig=«{rand(ALNUM, 43)}%3D» 403",
            "azure-sas-signature",
        ),
        case(
            "azure sas token alone",
            f"SAS: sv=2021-08-06&sr=c&sig=«{rand(ALNUM, 40)}%2B{rand(ALNUM, 6)}%3D»&se=2026",
            "azure-sas-signature",
        ),
        case(
            "azure ad client secret",
            f"AZURE_CLIENT_SECRET «{rand(ALNUM, 3)}8Q~{rand(ALNUM + '_~.-', 34)}»",
            "azure-ad-client-secret",
        ),
        case(
            "azure sql connection string password",
            "Server=tcp:db.database.windows.net,1433;Database=features;User ID=etl;Password=«Sp4rk;»Encrypt=True".replace("«Sp4rk;»", "«Sp4rk»;"),
            "key-value-secret",
        ),
    ]
    return cases


def forges():
    gh = lambda p: p + "_" + rand(ALNUM, 36)
    cases = []
    for p, line in [
        ("ghp", "remote: Invalid username or password. token «{}»"),
        ("gho", "Using GITHUB_TOKEN «{}» for api.github.com"),
        ("ghu", "x-access-token:«{}»"),
        ("ghs", "git clone https://oauth2:«{}»@github.com/org/repo.git"),
        ("ghr", "refresh «{}» issued"),
        ("ghp", "##[debug]env GH_TOKEN «{}»"),
    ]:
        rule = "github-token"
        cases.append(case(f"github {p} token", line.format(gh(p)), rule))
    cases += [
        case("github fine-grained pat", f"export GH_PAT «github_pat_{rand(ALNUM, 22)}_{rand(ALNUM, 59)}»", "github-fine-grained-token"),
        case("github token in header", f"curl -H 'Authorization: token «{gh('ghp')}»' https://api.github.com/user", "github-token"),
        case("gitlab pat", f"CI_JOB: glab auth login --token «glpat-{rand(URLSAFE, 20)}»", "gitlab-token"),
        case("gitlab deploy token", f"pull with «gldt-{rand(URLSAFE, 20)}»", "gitlab-token"),
        case("gitlab runner token", f"runner registered: «glrt-{rand(URLSAFE, 20)}»", "gitlab-token"),
        case("gitlab runner registration", f"gitlab-runner register --registration-token «GR1348941{rand(URLSAFE, 20)}»", "gitlab-token"),
        case("gitlab pipeline trigger", f"curl -X POST -F token=«glptt-{rand('0123456789abcdef', 40)}» https://gitlab.example/api/v4/projects/1/trigger/pipeline", "gitlab-token"),
    ]
    return cases


def chat_pay_ai():
    cases = [
        case("slack bot token", f"slack_sdk: auth.test with «xoxb-{rand(DIGITS, 12)}-{rand(DIGITS, 13)}-{rand(ALNUM, 24)}» failed: invalid_auth", "slack-token"),
        case("slack user token", f"SLACK_USER_TOKEN «xoxp-{rand(DIGITS, 12)}-{rand(DIGITS, 12)}-{rand(DIGITS, 13)}-{rand('0123456789abcdef', 32)}»", "slack-token"),
        case("slack app token", f"socket mode: «xapp-1-A{rand(UPPER + DIGITS, 10)}-{rand(DIGITS, 13)}-{rand('0123456789abcdef', 64)}»", "slack-token"),
        case("slack webhook", f"POST https://hooks.slack.com/services/«T{rand(UPPER + DIGITS, 8)}/B{rand(UPPER + DIGITS, 10)}/{rand(ALNUM, 24)}» -> 404 no_service", "slack-webhook"),
        # The host and path match in any case; the secret is ASCII (no random
        # draw here, so the cases after it keep theirs).
        case("slack webhook, host in capitals", "curl -X POST HTTPS://HOOKS.SLACK.COM/Services/«T0B2C3D4E5/B0F1G2H3I4J/Zq8Rk2Lx9Wm4Pv7Tn1Yc6Hd»", "slack-webhook"),
        case("stripe live secret key", f"stripe.error.AuthenticationError: Invalid API Key provided: «sk_live_{rand(ALNUM, 99)}»", "stripe-key"),
        case("stripe test key", f"STRIPE_KEY=«sk_test_{rand(ALNUM, 24)}»", "stripe-key"),
        case("stripe restricted key", f"using «rk_live_{rand(ALNUM, 24)}» for payouts", "stripe-key"),
        case("stripe webhook secret", f"endpoint secret «whsec_{rand(ALNUM, 32)}»", "stripe-key"),
        case("openai project key", f"openai.AuthenticationError: Incorrect API key provided: «sk-proj-{rand(URLSAFE, 48)}T3BlbkFJ{rand(URLSAFE, 48)}».", "openai-api-key"),
        case("openai legacy key", f"OPENAI_API_KEY «sk-{rand(ALNUM, 48)}»", "openai-api-key"),
        case("openai svcacct key", f"key «sk-svcacct-{rand(URLSAFE, 60)}» in use", "openai-api-key"),
        case("anthropic key", f"anthropic: x-api-key «sk-ant-api03-{rand(URLSAFE, 93)}AA»", "anthropic-api-key"),
        case("hugging face token", f"huggingface_hub: login with «hf_{rand(UPPER + LOWER, 34)}»", "huggingface-token"),
        case("hugging face token cli", f"$ huggingface-cli upload org/model ./ckpt --token «hf_{rand(UPPER + LOWER, 34)}»", "huggingface-token"),
        case("hugging face org token", f"HF org token «api_org_{rand(UPPER + LOWER, 34)}»", "huggingface-token"),
        case("npm token", f"//registry.npmjs.org/:_authToken=«npm_{rand(ALNUM, 36)}»", "npm-token"),
        case("pypi token", f"twine upload -p «pypi-AgEIcHlwaS5vcmc{rand(URLSAFE, 70)}» dist/*", "pypi-token"),
        case("sendgrid key", f"SENDGRID «SG.{rand(URLSAFE, 22)}.{rand(URLSAFE, 43)}» rejected", "sendgrid-key"),
        case("databricks token", f"databricks configure: token «dapi{rand('0123456789abcdef', 32)}»", "databricks-token"),
    ]
    return cases


def jwts():
    seg = lambda n: rand(URLSAFE, n)
    cases = []
    for i in range(5):
        tok = f"eyJ{seg(30)}.eyJ{seg(60 + i * 10)}.{seg(43)}"
        cases.append(case(f"jwt {i}", rng.choice([
            f"id_token: «{tok}»",
            f"session «{tok}» expired at 12:00",
            f"kubectl --token=«{tok}» get pods",
            f"{{\"jwt\": \"«{tok}»\"}}",
            f"verify failed for «{tok}»: signature mismatch",
        ]), {"jwt": 1}))
    return cases


def pems():
    cases = [
        case("rsa key block", f"loaded key:\n«{pem()}»\nready", "private-key"),
        case("openssh key", f"cat ~/.ssh/id_ed25519\n«{pem('OPENSSH PRIVATE KEY', 4)}»", "private-key"),
        case("ec key", f"«{pem('EC PRIVATE KEY', 3)}»", "private-key"),
        case("pkcs8 encrypted key", f"tls: «{pem('ENCRYPTED PRIVATE KEY', 5)}» parse error", "private-key"),
        case("pgp key block", f"gpg --export-secret-keys:\n«{pem('PGP PRIVATE KEY BLOCK', 5)}»", "private-key"),
        case("pem with indented lines", "config:\n  key: |\n    «" + pem().replace("\n", "\n    ") + "»\n  cert: none", "private-key"),
        case("pem without end (output stopped)", f"dumping key\n«{pem()[:300]}»", "private-key"),
    ]
    body = pem().split("\n")
    orphan = "\n".join(body[3:])
    cases.append(case("pem body whose BEGIN was cut off", f"«{orphan}»\nafter", "private-key-body"))
    lone = rand(B64, 62) + "Zq"
    cases.append(case("a lone 64-char pem body line", f"«{lone}»", "private-key-line"))
    return cases


def urls():
    rows = [
        ("postgres password", "could not connect to postgres://etl:«hunter2»@db.internal:5432/features"),
        ("password with slash", "fetch https://admin:«pa/ss/S01»@registry.example/v2/ failed"),
        ("password with at sign", "psql postgres://u:«p@ssS04»@h/db"),
        ("password with colon", "mongodb://root:«a:b:c»@mongo-0.mongo:27017/?authSource=admin"),
        ("redis url", "redis://default:«Zx81!pw%2F»@cache:6379/0 connection refused"),
        ("amqp url", "pika: amqp://guest:«s3cr3t-Q»@rabbit/%2F"),
        ("mysql dsn in json", '{"dsn": "mysql://app:«Tr0ub4dor&3»@10.0.0.5/app", "pool": 5}'),
        ("git remote with token", "fatal: unable to access 'https://oauth2:«s3cRetPassw0rd»@gitlab.example/ml/repo.git/'"),
        ("ftp url", "ftp://anonymous:«guest@example.org»@ftp.example.org/pub"),
        ("url with user and empty password stays", None),
        ("s3 presigned url", "GET https://b.s3.amazonaws.com/m.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=«" + rand("0123456789abcdef", 64) + "» 403"),
        ("oauth access_token in query", "redirect to https://app.example/cb#x?access_token=«" + rand(ALNUM, 40) + "»&expires_in=3600"),
        ("api key in query", "GET /v1/predict?model=resnet&api_key=«" + rand(ALNUM, 32) + "» 401"),
    ]
    cases = []
    for name, marked in rows:
        if marked is None:
            cases.append(case(name, "cloning https://user@github.com/org/repo.git"))
            continue
        rule = "url-query-secret" if ("?" in marked.split("«")[0].rsplit("://", 1)[-1] or "&" in marked.split("«")[0].rsplit("://", 1)[-1]) else "url-userinfo"
        cases.append(case(name, marked, rule))
    return cases


def headers():
    tok = lambda: rand(ALNUM + "-._~", 40)
    return [
        case("authorization bearer", f"> Authorization: Bearer «{tok()}»", "authorization-header"),
        case("authorization basic", f"Authorization: Basic «{rand(B64, 28)}=»", "authorization-header"),
        case("authorization token scheme", f"Authorization: Token «{rand('0123456789abcdef', 40)}»", "authorization-header"),
        case("authorization custom scheme", f"authorization: SSWS «{rand(URLSAFE, 42)}»", "authorization-header"),
        case("authorization digest", 'Authorization: Digest «username="etl", realm="api", nonce="dcd98b", response="6629fae49393a05397450978507c4ef1"»', "authorization-header"),
        case("proxy authorization", f"Proxy-Authorization: Basic «{rand(B64, 20)}»", "authorization-header"),
        case("authorization header in json", f'{{"headers": {{"Authorization": "Bearer «{tok()}»", "Accept": "*/*"}}}}', "authorization-header"),
        case("authorization scheme-less", f"authorization: «{rand(ALNUM, 32)}»", "authorization-header"),
        case("bearer outside header", f"requests: sending Bearer «{tok()}» to https://api.example", "bearer-token"),
        case("cookie header", f"Cookie: «session={rand(ALNUM, 32)}; csrftoken={rand(ALNUM, 32)}»", "cookie-header"),
        case("set-cookie header", f"< Set-Cookie: «sid={rand(ALNUM, 24)}; Path=/; HttpOnly»", "cookie-header"),
        case("curl -u", "+ curl -sf -u admin:«hunter2» https://nexus.internal/repo", "curl-user"),
        case("curl --user quoted", "curl --user 'deploy:«correct horse S08»' https://h/x", "curl-user"),
        case("curl -u attached", "curl -uci:«Pa55word!» https://h", "curl-user"),
    ]


def key_values():
    rows = [
        ("password=", "connect: password=«s3cr3t» user=bob", "key-value-secret"),
        ("quoted password with spaces", 'db.connect(password="«correct horse S08»", host="db")', "key-value-secret"),
        ("single-quoted password", "PGPASSWORD='«p w d»' psql -h db", "key-value-secret"),
        ("env var password", "DB_PASSWORD=«Summer2024!»", "key-value-secret"),
        ("yaml password", "database:\n  password: «tr4in-db-pw»\n  host: db", "key-value-secret"),
        ("json secret", '{"client_secret": "«' + rand(ALNUM, 30) + '»"}', "key-value-secret"),
        ("python repr", "Settings(api_key='«" + rand(ALNUM, 32) + "»', debug=False)", "key-value-secret"),
        ("ruby hash rocket", ':secret_token => "«' + rand(ALNUM, 20) + '»"', "key-value-secret"),
        ("go walrus", 'token := "«' + rand(ALNUM, 24) + '»"', "key-value-secret"),
        ("x-api-key header", "x-api-key: «" + rand(ALNUM, 32) + "»", "key-value-secret"),
        ("wandb api key", "WANDB_API_KEY=«" + rand("0123456789abcdef", 40) + "»", "key-value-secret"),
        ("private key env", "SIGNING_KEY=«" + rand(B64, 44) + "»", "key-value-secret"),
        ("passphrase", "ssh-keygen passphrase: «blue-sky-42»", "key-value-secret"),
        ("credentials path-like value", "MLFLOW_TRACKING_PASSWORD=«mlflow-pw-7»", "key-value-secret"),
        ("two secrets on a line", "user=bob password=«one1» api_token=«two2»", "key-value-secret"),
        ("--password X", "mysqldump --user etl --password «S3cure-Pw» features", "cli-flag-secret"),
        ("--password=X", "app --db-password=«hunter22» --port 5432", "cli-flag-secret"),
        ("--api-key quoted", "predict.py --api-key \"«alpha beta 9»\" --n 3", "cli-flag-secret"),
        ("--token single quoted", "hf download --token '«" + rand(ALNUM, 20) + "»'", "cli-flag-secret"),
        ("--secret", "vault write --secret «v4ult-s3cret» path", "cli-flag-secret"),
        ("-auth-key", "tailscale up -auth-key «tskey-" + rand(ALNUM, 30) + "»", "cli-flag-secret"),
        ("entropy near name", "using token «" + rand(ALNUM, 32) + "» for upload", "high-entropy-near-name"),
        ("entropy near name with is", "the api_key is «" + rand(ALNUM, 28) + "»", "high-entropy-near-name"),
        ("entropy near secret word", "secret «" + rand(ALNUM + "+/", 40) + "» rotated", "high-entropy-near-name"),
    ]
    return [case(name, marked, rule) for name, marked, rule in rows]


def combined():
    gh = "ghp_" + rand(ALNUM, 36)
    akia = "AKIA" + rand(UPPER + "234567", 16)
    text = (
        "Traceback (most recent call last):\n"
        f"  File \"train.py\", line 88, in <module>\n    upload(ckpt, token=\"«{gh}»\")\n"
        f"botocore.exceptions.ClientError: key «{akia}» denied\n"
        "ERROR: connection to postgres://etl:«pw»@db/features failed"
    )
    return [
        case("traceback with three secrets", text, {"aws-access-key-id": 1, "github-token": 1, "url-userinfo": 1}),
        case(
            "ansi coloured secret",
            "\x1b[31mERROR\x1b[0m password=\x1b[1m«hunter2»\x1b[0m",
            "key-value-secret",
        ) | {"expect": {"text": "ERROR password=[REDACTED]", "redactions": [{"rule": "key-value-secret", "count": 1}]}},
        case("crlf line endings", "Authorization: Bearer «" + rand(ALNUM, 30) + "»\r\nnext", "authorization-header"),
    ]


def negatives():
    hexs = lambda n: rand("0123456789abcdef", n)
    uuid = lambda: f"{hexs(8)}-{hexs(4)}-4{hexs(3)}-a{hexs(3)}-{hexs(12)}"
    rows = [
        f"commit {hexs(40)}",
        hexs(64),
        f"{hexs(64)}  model.safetensors",
        f"HEAD is now at {hexs(7)} fix dataloader",
        f"Merge: {hexs(7)} {hexs(7)}",
        f"git checkout {hexs(40)} -- configs/",
        f"run_id={uuid()}",
        f"request {uuid()} completed in 120ms",
        f"trace_id={hexs(32)} span_id={hexs(16)}",
        f"sha256:{hexs(64)}",
        f"docker pull ghcr.io/org/trainer@sha256:{hexs(64)}",
        f"model.safetensors sha256={hexs(64)}",
        f"checksum: {rand(B64, 43)}=",
        f"Content-MD5: {rand(B64, 22)}==",
        f"etag \"{hexs(32)}\"",
        f"x-amz-checksum-sha256: {rand(B64, 43)}=",
        f"hf://datasets/org/data/resolve/{hexs(40)}/train.parquet",
        f"Downloading model.bin revision {hexs(40)}",
        "s3://ml-artifacts/models/resnet50/epoch-12/model.pt",
        "s3://bucket/path/to/key=value/part-0000.parquet",
        "gs://feature-store/2024-01-01/features.avro",
        "aws s3 cp s3://data/raw/2024/01/01/ s3://data/clean/ --recursive",
        "Uploading to https://bucket.s3.us-east-1.amazonaws.com/models/v1/model.tar.gz",
        "https://example.com:8443/path/to/resource?page=2&sort=desc",
        "npm install https://registry.npmjs.org:443/@types/node/-/node-20.0.0.tgz",
        "connecting to db.internal:5432 as user etl",
        "FATAL: password authentication failed for user \"etl\"",
        "Error: token expired, please log in again",
        "tokenizer: loaded 50257 tokens from vocab.json",
        "max_new_tokens=256 temperature=0.7 top_p=0.9",
        "Processed 1,234,567 tokens/s on 8 GPUs",
        "pad_token=<pad> eos_token=</s>",
        "tokenizer.pad_token = None",
        "password: ${DB_PASSWORD}",
        "PGPASSWORD=$PGPASSWORD psql -h db",
        "api_key: <your-api-key>",
        "password=**** (hidden)",
        "Authorization header missing",
        "the secret manager returned 3 versions",
        "Key 'learning_rate' not found in config",
        "primary key violation on table features",
        "KeyError: 'labels'",
        "epoch 3/10 loss=0.4123 acc=0.8812 lr=3e-4",
        "CUDA out of memory. Tried to allocate 2.00 GiB",
        "ImportError: cannot import name 'AutoTokenizer'",
        "Step 1200: grad_norm=0.92, tokens_seen=1.2e9",
        "cache key 5f2b9e hit",
        "job 8c1f2d9e-3b7a-4c2e-9f1d-2a3b4c5d6e7f finished with exit code 0",
        "base64 of the config: eyJ0eXAiOiJjb25maWcifQ==",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3Cq6v public key added",
        "-----BEGIN CERTIFICATE----- (certificate chain loaded)",
        "-----BEGIN PUBLIC KEY-----",
        "Running: docker run -u 1000:1000 trainer:latest",
        "curl -u $USER:$PASS is not allowed",
        "sk-learn version 1.4.2",
        "github.com/org/repo/pull/123",
        "user@example.com signed the commit",
        "https://user@github.com/org/repo.git",
        "http://localhost:8080/health OK",
        "Bearer token required",
        "auth: enabled=true method=oidc",
        "secret_name=prod/db/password rotated",
        "set-cookie rejected: SameSite",
        "value=0x7fffffff offset=1024",
        "/home/runner/work/repo/repo/.cache/huggingface/hub/models--bert-base-uncased",
        "INFO  2024-01-01T00:00:00Z step=train attempt=2/5 retry in 4s",
    ]
    return [case(f"negative: {r[:50]}", r) for r in rows]


def policy_cases():
    allow_value = "AKIAIOSFODNN7EXAMPLE"
    policy = {
        "format": "toml",
        "source": (
            "[redaction]\n"
            "patterns = [\n"
            "  { id = \"internal-token\", regex = 'itk_[a-z0-9]{24}' },\n"
            "  { id = \"employee-id\", regex = 'emp-(?P<secret>[0-9]{6})' },\n"
            "]\n"
            f"allow = [\"{allow_value}\", \"hunter2\"]\n"
            "allow_patterns = ['^test-[a-z]+$']\n"
            "disable = [\"high-entropy-near-name\"]\n"
        ),
    }
    itk = "itk_" + rand(LOWER + DIGITS, 24)
    cases = [
        case("policy pattern", f"internal call with «{itk}» ok", "internal-token"),
        case("policy pattern with a secret group", "badge emp-«123456» scanned", "employee-id"),
        case("allow-listed value stays", f"docs example key {allow_value}"),
        case("allow-listed password stays", "password=hunter2"),
        case("allow pattern", "password=test-fixture"),
        case("not allow-listed still redacted", "password=«hunter3»", "key-value-secret"),
        case("disabled rule", "using token " + rand(ALNUM, 32) + " for upload"),
        case("builtin still on", f"«AKIA{rand(UPPER + '234567', 16)}»", "aws-access-key-id"),
    ]
    for c in cases:
        c["policy"] = policy
    errors = [
        (
            "bad pattern regex",
            "[redaction]\npatterns = [{ id = \"x\", regex = \"a(\" }]\n",
            {"code": "invalid-regex", "path": "redaction.patterns[0].regex", "line": 2, "column": 33},
        ),
        (
            "pattern id reuses a built-in",
            "[redaction]\npatterns = [{ id = \"jwt\", regex = \"abc\" }]\n",
            {"code": "duplicate-id", "path": "redaction.patterns[0].id", "line": 2, "column": 13},
        ),
        (
            "pattern without regex",
            "[redaction]\npatterns = [{ id = \"x\" }]\n",
            {"code": "missing-field", "path": "redaction.patterns[0].regex", "line": 2, "column": 13},
        ),
        (
            "pattern matching everything",
            "[redaction]\npatterns = [{ id = \"x\", regex = \"a*\" }]\n",
            {"code": "invalid-regex", "path": "redaction.patterns[0].regex", "line": 2, "column": 33},
        ),
        (
            "unknown rule to disable",
            "[redaction]\ndisable = [\"jwts\"]\n",
            {"code": "invalid-value", "path": "redaction.disable[0]", "line": 2, "column": 12, "message": "`jwts` is not a built-in redaction rule; did you mean `jwt`?"},
        ),
        (
            "unknown redaction field",
            "[redaction]\nallowlist = [\"x\"]\n",
            {"code": "unknown-field", "path": "redaction.allowlist", "line": 2, "column": 1},
        ),
        (
            "bad allow pattern",
            "[redaction]\nallow_patterns = [\"[\"]\n",
            {"code": "invalid-regex", "path": "redaction.allow_patterns[0]", "line": 2, "column": 19},
        ),
        (
            "retry command with a quoted placeholder",
            "[alerts.runbook]\nretry_command = \"airflow tasks run '{run_id}'\"\n",
            {"code": "invalid-value", "path": "alerts.runbook.retry_command", "line": 2, "column": 17},
        ),
        (
            "retry command with an unknown placeholder",
            "[alerts.runbook]\nretry_command = \"backstop run --run-id {runid}\"\n",
            {"code": "invalid-value", "path": "alerts.runbook.retry_command", "line": 2, "column": 17},
        ),
    ]
    for name, source, error in errors:
        cases.append({"name": name, "policy": {"format": "toml", "source": source}, "expect_errors": [error]})
    return cases


def runbook_cases():
    """Alert sequences: runbook commands quoted once, URLs percent-encoded,
    multi-line and long-line secrets in log lines, the id policy."""
    rules = (
        "[[alerts.rules]]\nid = \"any\"\ncondition = \"run.failure_count >= 1\"\n"
        "severity = \"high\"\nnotify = [\"oncall\"]\n"
    )
    templated = {
        "format": "toml",
        "source": "[alerts]\npayload = [\"run_id\"]\n[alerts.runbook]\n"
        "retry_command = \"airflow tasks run nightly {step} --run-id {run_id}\"\n"
        "url = \"https://runbooks.example/{pipeline}/{step}?run={run_id}\"\n" + rules,
    }
    default = {"format": "toml", "source": "[alerts]\npayload = [\"last_log_lines\", \"error_message\"]\n" + rules}

    def failed(run_id, step="train", log_lines=None, message="boom"):
        event = {"kind": "run-failed", "pipeline": "nightly", "step": step, "run_id": run_id,
                 "failure": {"exit_code": 1, "message": message}}
        if log_lines is not None:
            event["log_lines"] = log_lines
        return event

    def one(name, policy, event, runbook=None, payload=None):
        p = dict(payload or {})
        if runbook:
            p["runbook"] = runbook
        return {
            "name": name,
            "policy": policy,
            "alert_steps": [{
                "event": event,
                "now_ms": 1704067200000,
                "expect": {"notifications": [{"kind": "trigger", "payload": p}], "suppressed": []},
            }],
        }

    body = [rand(B64, 64) for _ in range(3)]
    long_token = rand(ALNUM, 600)
    return [
        one("a hostile run id is one quoted word", templated, failed("x; rm -rf ~ #"), {
            "how_to_retry": "airflow tasks run nightly train --run-id 'x; rm -rf ~ #'",
            "how_to_retry_argv": ["airflow", "tasks", "run", "nightly", "train", "--run-id", "x; rm -rf ~ #"],
            "url": "https://runbooks.example/nightly/train?run=x%3B%20rm%20-rf%20~%20%23",
        }),
        one("a run id naming placeholders is not expanded again", templated, failed("{step}{pipeline}"), {
            "how_to_retry": "airflow tasks run nightly train --run-id '{step}{pipeline}'",
            "how_to_retry_argv": ["airflow", "tasks", "run", "nightly", "train", "--run-id", "{step}{pipeline}"],
            "url": "https://runbooks.example/nightly/train?run=%7Bstep%7D%7Bpipeline%7D",
        }, {"run_id": "{step}{pipeline}"}),
        one("a step with a quote", templated, failed("r1", step="it's"), {
            "how_to_retry": "airflow tasks run nightly 'it'\\''s' --run-id r1",
            "how_to_retry_argv": ["airflow", "tasks", "run", "nightly", "it's", "--run-id", "r1"],
        }),
        one("the default command quotes too", default, failed("$(reboot)"), {
            "how_to_retry": "backstop run --run-id '$(reboot)' --step train -- <the step's command>",
            "how_to_retry_argv": ["backstop", "run", "--run-id", "$(reboot)", "--step", "train", "--"],
        }),
        one("a PEM block across log lines is redacted whole", default,
            failed("r2", log_lines=["loading key", "-----BEGIN PRIVATE KEY-----", *body, "-----END PRIVATE KEY-----", "done"]),
            payload={"last_log_lines": ["loading key", "[REDACTED]", "done"]}),
        one("a long header line keeps its prefix", default,
            failed("r3", log_lines=["> Authorization: Bearer " + long_token, "< HTTP/1.1 401"]),
            payload={"last_log_lines": ["> Authorization: Bearer [REDACTED]", "< HTTP/1.1 401"]}),
        one("the error message is redacted whole before it is clipped", default,
            failed("r4", message="connect failed\n-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END RSA PRIVATE KEY-----\nexit 1"),
            payload={"error_message": "connect failed\n[REDACTED]\nexit 1"}),
        {
            "name": "a run id with a control character is refused",
            "policy": default,
            "alert_steps": [{
                "event": failed("r\u001b[31m1"),
                "now_ms": 1704067200000,
                "expect_error": {"code": "invalid-value", "path": "event.run_id"},
            }],
        },
        {
            "name": "a run id over 256 bytes is refused",
            "policy": default,
            "alert_steps": [{
                "event": failed("r" * 257),
                "now_ms": 1704067200000,
                "expect_error": {"code": "invalid-value", "path": "event.run_id",
                                 "message": "run_id is 257 bytes; the limit is 256"},
            }],
        },
    ]


def write(name, description, vectors):
    path = OUT / f"redaction-{name}.json"
    doc = {"description": description, "policy": None, "vectors": vectors}
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return len(vectors)


if __name__ == "__main__":
    total = 0
    total += write("cloud", "Cloud provider credentials: AWS, GCP service accounts, Azure connection strings and SAS", cloud())
    total += write("tokens", "Token formats: GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, Hugging Face, npm, PyPI, SendGrid, Databricks, JWT", forges() + chat_pay_ai() + jwts())
    total += write("pem", "PEM private key blocks across lines, cut off at either end", pems())
    total += write("generic", "URL userinfo and query secrets, Authorization/Cookie headers, curl -u, key=value and --flag forms, entropy near names, combined tails", urls() + headers() + key_values() + combined())
    total += write("negatives", "Text that must stay intact: git SHAs, UUIDs, checksums, model hashes, S3 paths, ML log lines", negatives())
    total += write("policy", "A policy's own patterns, allow-list and disabled rules; invalid [redaction] tables and runbook templates", policy_cases())
    total += write("runbook", "Alert payloads: runbook commands quoted once in POSIX shell form and as argv, URLs percent-encoded, multi-line and long-line secrets, the id policy", runbook_cases())
    print(f"{total} vectors")
