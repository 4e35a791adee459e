backstop run --policy examples/storage-read.toml --run-id 2024-06-01 --step extract -- python extract.py
#   requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: ...
#   backstop: attempt 1 failed (transient, rule storage-5xx: requests HTTPError 503): exit status 1; retry in 1.1s
#   ... five attempts in all; a 404 gets one, S3's NoSuchKey is `missing-partition`
backstop classify --policy examples/storage-read.toml --log step.log --exit-code 1   # the same readers over a saved log
