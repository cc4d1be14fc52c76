#!/usr/bin/env python3
"""Smoke test for the S3 test servers started by scripts/test-servers.sh.

Needs boto3, from the venv made by scripts/install-test-servers.sh (when run
by another python it re-executes itself with the venv's):

    scripts/test-servers.sh start
    scripts/smoke-test-servers.py
    scripts/test-servers.sh stop

Endpoints and keys come from the SYMSTORE_* environment variables, or, where
unset, from the run dir's env file (.tools/run/env, or $SYMSTORE_TEST_RUN_DIR/env).

Per server (SigV4, path-style, admin keys): create bucket, put, get, head,
list, delete, multipart create + ListMultipartUploads + abort, delete bucket.
SeaweedFS also: a wrong secret and an anonymous request are rejected, and what
the nodelete identity can and cannot do. Lines marked "info" are observations
that do not fail the run. Exit status 0 iff every check passed.
"""

import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

try:
    import boto3  # noqa: F401
except ImportError:
    # Run by another python: switch to the venv made by install-test-servers.sh.
    venv_python = os.path.join(REPO, ".tools", "venv", "bin", "python")
    if os.path.exists(venv_python) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(REPO, ".tools", "venv")):
        os.execv(venv_python, [venv_python] + sys.argv)
    raise

# Keep botocore from looking anywhere for credentials or config (no EC2
# metadata lookups, no ~/.aws files); everything it needs is given explicitly.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
# The servers are on loopback: never route to them through a proxy.
os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
os.environ["no_proxy"] = os.environ["NO_PROXY"]

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


def load_env():
    run = os.environ.get("SYMSTORE_TEST_RUN_DIR", os.path.join(REPO, ".tools", "run"))
    path = os.path.join(run, "env")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("export "):
                    key, _, value = line[len("export "):].partition("=")
                    os.environ.setdefault(key, value)
    missing = [
        k
        for k in (
            "SYMSTORE_SEAWEEDFS_ENDPOINT",
            "SYMSTORE_MOTO_ENDPOINT",
            "SYMSTORE_JUICEFS_ENDPOINT",
            "SYMSTORE_TEST_ACCESS_KEY",
            "SYMSTORE_TEST_SECRET_KEY",
            "SYMSTORE_TEST_NODELETE_ACCESS_KEY",
            "SYMSTORE_TEST_NODELETE_SECRET_KEY",
        )
        if k not in os.environ
    ]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run scripts/test-servers.sh start first")


def client(endpoint, access_key, secret_key):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=os.environ.get("SYMSTORE_TEST_REGION", "us-east-1"),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


failures = []


def with_content_md5(s3):
    """Same client settings, plus a Content-MD5 header on every request that
    has a body (botocore no longer sends it by itself)."""
    import base64
    import hashlib

    c = boto3.client(
        "s3",
        endpoint_url=s3.meta.endpoint_url,
        aws_access_key_id=os.environ["SYMSTORE_TEST_ACCESS_KEY"],
        aws_secret_access_key=os.environ["SYMSTORE_TEST_SECRET_KEY"],
        region_name=s3.meta.region_name,
        config=s3.meta.config,
    )

    def add_md5(request, **_):
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes) and body:
            request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()

    c.meta.events.register("before-sign.s3", add_md5)
    return c


def trailer_client(s3, transfer_encoding_chunked):
    """Client whose PutObject/UploadPart bodies go out aws-chunked with an
    unsigned checksum trailer, even over http."""
    c = boto3.client(
        "s3",
        endpoint_url=s3.meta.endpoint_url,
        aws_access_key_id=os.environ["SYMSTORE_TEST_ACCESS_KEY"],
        aws_secret_access_key=os.environ["SYMSTORE_TEST_SECRET_KEY"],
        region_name=s3.meta.region_name,
        config=s3.meta.config,
    )

    def force_trailer(params, **_):
        algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict):
            algorithm["in"] = "trailer"

    def use_content_length(request, **_):
        body = request.body.read() if hasattr(request.body, "read") else request.body
        request.body = body
        request.headers.pop("Transfer-Encoding", None)
        request.headers["Content-Length"] = str(len(body))

    for op in ("PutObject", "UploadPart"):
        c.meta.events.register(f"before-call.s3.{op}", force_trailer)
        if not transfer_encoding_chunked:
            c.meta.events.register(f"before-send.s3.{op}", use_content_length)
    return c


def check(server, what, fn, expect=None):
    """Run fn; expect None = must succeed, else an S3 error code (or a tuple of
    accepted codes) that must be returned. Returns fn's result or None."""
    try:
        result = fn()
    except ClientError as e:
        code = e.response["Error"].get("Code")
        status = e.response["ResponseMetadata"].get("HTTPStatusCode")
        if expect and code in (expect if isinstance(expect, tuple) else (expect,)):
            print(f"  ok    {server:9} {what}: rejected {status} {code}")
        else:
            print(f"  FAIL  {server:9} {what}: {status} {code} {e}")
            failures.append(f"{server}: {what}")
        return None
    except Exception as e:  # connection errors etc.
        print(f"  FAIL  {server:9} {what}: {type(e).__name__}: {e}")
        failures.append(f"{server}: {what}")
        return None
    if expect:
        print(f"  FAIL  {server:9} {what}: succeeded, expected {expect}")
        failures.append(f"{server}: {what}")
        return None
    print(f"  ok    {server:9} {what}")
    return result


def info(server, what, fn):
    """Observation only: print outcome, never fail."""
    try:
        r = fn()
        print(f"  info  {server:9} {what}: {r if r is not None else 'succeeded'}")
    except ClientError as e:
        print(
            f"  info  {server:9} {what}: {e.response['ResponseMetadata'].get('HTTPStatusCode')} "
            f"{e.response['Error'].get('Code')}"
        )
    except Exception as e:
        print(f"  info  {server:9} {what}: {type(e).__name__}: {e}")


def expect_equal(server, what, got, want):
    if got == want:
        print(f"  ok    {server:9} {what}")
    else:
        print(f"  FAIL  {server:9} {what}: got {got!r}, want {want!r}")
        failures.append(f"{server}: {what}")


def basic(server, s3):
    bucket = f"smoke-{uuid.uuid4().hex[:12]}"
    key = "dir/sub/file.pdb"
    body = b"symstore smoke test \x00\x01\x02" * 100
    t0 = time.monotonic()
    if check(server, f"CreateBucket {bucket}", lambda: s3.create_bucket(Bucket=bucket)) is None:
        return
    check(server, "HeadBucket", lambda: s3.head_bucket(Bucket=bucket))
    check(server, "PutObject", lambda: s3.put_object(Bucket=bucket, Key=key, Body=body))
    print(f"  info  {server:9} first CreateBucket+PutObject took {time.monotonic() - t0:.2f}s")
    got = check(server, "GetObject", lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if got is not None:
        expect_equal(server, "GetObject body matches", got, body)
    head = check(server, "HeadObject", lambda: s3.head_object(Bucket=bucket, Key=key))
    if head is not None:
        expect_equal(server, "HeadObject ContentLength", head["ContentLength"], len(body))
        info(server, "HeadObject ETag", lambda: head.get("ETag"))
    listed = check(server, "ListObjectsV2", lambda: s3.list_objects_v2(Bucket=bucket))
    if listed is not None:
        expect_equal(server, "ListObjectsV2 keys", [o["Key"] for o in listed.get("Contents", [])], [key])
    info(
        server,
        "ListObjectsV2 prefix=dir/ delimiter=/",
        lambda: [p["Prefix"] for p in s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/").get("CommonPrefixes", [])],
    )
    info(server, "GetObject Range bytes=0-3", lambda: s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-3")["Body"].read())
    info(server, "GetObject missing key", lambda: s3.get_object(Bucket=bucket, Key="nope"))
    info(
        server,
        "PutObject IfNoneMatch=* on existing key",
        lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"x", IfNoneMatch="*")["ResponseMetadata"]["HTTPStatusCode"],
    )
    info(
        server,
        "PutObject ChecksumAlgorithm=CRC32",
        lambda: s3.put_object(Bucket=bucket, Key="crc", Body=b"crc", ChecksumAlgorithm="CRC32")["ResponseMetadata"]["HTTPStatusCode"],
    )

    def put_trailer(transfer_encoding_chunked):
        # What current AWS SDKs may send for PutObject: an aws-chunked body with
        # an unsigned CRC32 trailer (x-amz-content-sha256:
        # STREAMING-UNSIGNED-PAYLOAD-TRAILER). botocore only does this over
        # https, so it is forced here; botocore then sends it with
        # Transfer-Encoding: chunked, the other variant uses a Content-Length
        # of the encoded body (as aws-sdk-rust does).
        c = trailer_client(s3, transfer_encoding_chunked)
        data = b"trailer body " * 1000
        c.put_object(Bucket=bucket, Key="trailer", Body=data)
        got = s3.get_object(Bucket=bucket, Key="trailer")["Body"].read()
        return "stored intact" if got == data else f"STORED {len(got)} bytes != {len(data)} sent"

    info(server, "PutObject aws-chunked + CRC32 trailer, Content-Length", lambda: put_trailer(False))
    info(server, "PutObject aws-chunked + CRC32 trailer, Transfer-Encoding: chunked", lambda: put_trailer(True))

    # Multipart upload: create, list, upload part + complete on a second one.
    mpu_key = "multipart/object"
    up = check(server, "CreateMultipartUpload", lambda: s3.create_multipart_upload(Bucket=bucket, Key=mpu_key))
    if up is not None:
        uploads = check(server, "ListMultipartUploads", lambda: s3.list_multipart_uploads(Bucket=bucket))
        if uploads is not None:
            expect_equal(
                server,
                "ListMultipartUploads shows the upload",
                [(u["Key"], u["UploadId"]) for u in uploads.get("Uploads", [])],
                [(mpu_key, up["UploadId"])],
            )
        check(
            server,
            "AbortMultipartUpload",
            lambda: s3.abort_multipart_upload(Bucket=bucket, Key=mpu_key, UploadId=up["UploadId"]),
        )
        uploads = s3.list_multipart_uploads(Bucket=bucket)
        info(server, "uploads after abort", lambda: len(uploads.get("Uploads", [])))

    def complete_mpu():
        u = s3.create_multipart_upload(Bucket=bucket, Key="mpu2")
        part1 = b"a" * (5 * 1024 * 1024)
        part2 = b"b" * 10
        e1 = s3.upload_part(Bucket=bucket, Key="mpu2", UploadId=u["UploadId"], PartNumber=1, Body=part1)["ETag"]
        e2 = s3.upload_part(Bucket=bucket, Key="mpu2", UploadId=u["UploadId"], PartNumber=2, Body=part2)["ETag"]
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mpu2",
            UploadId=u["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
        )
        data = s3.get_object(Bucket=bucket, Key="mpu2")["Body"].read()
        assert data == part1 + part2, "multipart content mismatch"

    check(server, "multipart upload (2 parts) complete + read back", complete_mpu)

    check(server, "DeleteObject", lambda: s3.delete_object(Bucket=bucket, Key=key))
    listed = check(server, "ListObjectsV2 after delete", lambda: s3.list_objects_v2(Bucket=bucket))
    if listed is not None:
        expect_equal(
            server,
            "deleted key gone",
            key in [o["Key"] for o in listed.get("Contents", [])],
            False,
        )
    check(server, "DeleteObject of missing key", lambda: s3.delete_object(Bucket=bucket, Key="never-existed"))
    rest = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    if rest:
        delete = {"Objects": [{"Key": k} for k in rest]}
        try:
            s3.delete_objects(Bucket=bucket, Delete=delete)
            print(f"  ok    {server:9} DeleteObjects {rest}")
        except ClientError as e:
            if e.response["Error"].get("Code") != "MissingContentMD5":
                raise
            # Current AWS SDKs (botocore >= 1.36, aws-sdk-rust since early 2025)
            # send a CRC32 checksum instead of Content-MD5; the MinIO-based
            # JuiceFS gateway insists on Content-MD5 for DeleteObjects.
            print(f"  info  {server:9} DeleteObjects without Content-MD5: 400 MissingContentMD5; retrying with Content-MD5")
            check(
                server,
                f"DeleteObjects {rest} with Content-MD5",
                lambda: with_content_md5(s3).delete_objects(Bucket=bucket, Delete=delete),
            )
    check(server, "DeleteBucket", lambda: s3.delete_bucket(Bucket=bucket))


def seaweedfs_auth(endpoint):
    server = "seaweedfs"
    ak = os.environ["SYMSTORE_TEST_ACCESS_KEY"]
    admin = client(endpoint, ak, os.environ["SYMSTORE_TEST_SECRET_KEY"])
    bad = client(endpoint, ak, "wrong-secret")
    unknown = client(endpoint, "no-such-key", "whatever")
    nd = client(
        endpoint,
        os.environ["SYMSTORE_TEST_NODELETE_ACCESS_KEY"],
        os.environ["SYMSTORE_TEST_NODELETE_SECRET_KEY"],
    )

    bucket = f"smoke-auth-{uuid.uuid4().hex[:8]}"
    admin.create_bucket(Bucket=bucket)
    admin.put_object(Bucket=bucket, Key="existing", Body=b"existing")

    check(server, "wrong secret: ListBuckets", lambda: bad.list_buckets(), expect="SignatureDoesNotMatch")
    check(server, "wrong secret: GetObject", lambda: bad.get_object(Bucket=bucket, Key="existing"), expect="SignatureDoesNotMatch")
    check(server, "wrong secret: PutObject", lambda: bad.put_object(Bucket=bucket, Key="x", Body=b"x"), expect="SignatureDoesNotMatch")
    check(server, "unknown access key: ListBuckets", lambda: unknown.list_buckets(), expect=("InvalidAccessKeyId", "AccessDenied"))

    import http.client
    import urllib.parse

    u = urllib.parse.urlsplit(endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("GET", f"/{bucket}/existing")
    r = c.getresponse()
    r.read()
    expect_equal(server, "anonymous GET rejected (status)", r.status, 403)

    # nodelete identity
    check(server, "nodelete: ListBuckets", lambda: nd.list_buckets())
    check(server, "nodelete: HeadBucket", lambda: nd.head_bucket(Bucket=bucket))
    check(server, "nodelete: GetObject", lambda: nd.get_object(Bucket=bucket, Key="existing")["Body"].read())
    check(server, "nodelete: HeadObject", lambda: nd.head_object(Bucket=bucket, Key="existing"))
    check(server, "nodelete: PutObject (new key)", lambda: nd.put_object(Bucket=bucket, Key="nd-new", Body=b"n"))
    check(server, "nodelete: PutObject (overwrite)", lambda: nd.put_object(Bucket=bucket, Key="nd-new", Body=b"n2"))
    check(server, "nodelete: ListObjectsV2", lambda: nd.list_objects_v2(Bucket=bucket))
    up = check(server, "nodelete: CreateMultipartUpload", lambda: nd.create_multipart_upload(Bucket=bucket, Key="nd-mpu"))
    check(server, "nodelete: ListMultipartUploads", lambda: nd.list_multipart_uploads(Bucket=bucket))
    if up is not None:
        check(server, "nodelete: UploadPart", lambda: nd.upload_part(Bucket=bucket, Key="nd-mpu", UploadId=up["UploadId"], PartNumber=1, Body=b"p"))
        check(server, "nodelete: AbortMultipartUpload", lambda: nd.abort_multipart_upload(Bucket=bucket, Key="nd-mpu", UploadId=up["UploadId"]))
    info(server, "nodelete: CopyObject", lambda: nd.copy_object(Bucket=bucket, Key="nd-copy", CopySource={"Bucket": bucket, "Key": "existing"})["ResponseMetadata"]["HTTPStatusCode"])
    check(server, "nodelete: DeleteObject", lambda: nd.delete_object(Bucket=bucket, Key="existing"), expect="AccessDenied")

    def multi_delete():
        r = nd.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "existing"}]})
        errors = [(e["Key"], e["Code"]) for e in r.get("Errors", [])]
        if r.get("Deleted") or errors != [("existing", "AccessDenied")]:
            raise AssertionError(f"DeleteObjects reply: Deleted={r.get('Deleted')} Errors={errors}")
        return errors

    check(server, "nodelete: DeleteObjects -> 200 with per-key AccessDenied", multi_delete)
    check(server, "nodelete: CreateBucket", lambda: nd.create_bucket(Bucket=bucket + "-nd"), expect="AccessDenied")
    check(server, "nodelete: DeleteBucket", lambda: nd.delete_bucket(Bucket=bucket), expect="AccessDenied")
    keys = [o["Key"] for o in admin.list_objects_v2(Bucket=bucket).get("Contents", [])]
    expect_equal(server, "object still there after nodelete's deletes", "existing" in keys, True)

    for k in keys:
        admin.delete_object(Bucket=bucket, Key=k)
    admin.delete_bucket(Bucket=bucket)


def other_auth(server, endpoint):
    bad = client(endpoint, os.environ["SYMSTORE_TEST_ACCESS_KEY"], "wrong-secret")
    info(server, "wrong secret: ListBuckets", lambda: len(bad.list_buckets()["Buckets"]))


def main():
    load_env()
    servers = [
        ("seaweedfs", os.environ["SYMSTORE_SEAWEEDFS_ENDPOINT"]),
        ("moto", os.environ["SYMSTORE_MOTO_ENDPOINT"]),
        ("juicefs", os.environ["SYMSTORE_JUICEFS_ENDPOINT"]),
    ]
    for server, endpoint in servers:
        print(f"== {server} {endpoint}")
        s3 = client(endpoint, os.environ["SYMSTORE_TEST_ACCESS_KEY"], os.environ["SYMSTORE_TEST_SECRET_KEY"])
        basic(server, s3)
        if server == "seaweedfs":
            seaweedfs_auth(endpoint)
        else:
            other_auth(server, endpoint)
    if failures:
        print(f"smoke test: {len(failures)} check(s) failed:")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("smoke test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
