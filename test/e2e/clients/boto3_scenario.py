#!/usr/bin/python3
"""boto3 scenario (run with /usr/bin/python3, the one with boto3).

Metadata round trip, range GET, flexible checksums, conditional GET, copy (COPY and REPLACE),
presigned PUT and GET with urllib, a presigned POST form (policy conditions), multipart with
ListParts paging and abort, listing of 1100 keys (v2 with and without delimiter, v1 with markers),
DeleteObjects, the error codes NoSuchKey, NoSuchBucket, BucketNotEmpty and SignatureDoesNotMatch,
and bucket deletion.

Reports "OP <name> ok|FAIL <msg>" lines on stdout (see test/e2e/scenarios.ts). On a failure the
last requests and responses are written to stderr.
"""
import base64
import collections
import concurrent.futures
import datetime
import hashlib
import io
import os
import signal
import ssl
import sys
import time
import traceback
import urllib.error
import urllib.request
import zlib

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError
from boto3.s3.transfer import TransferConfig

ENV = os.environ
ENDPOINT = ENV["S3_ENDPOINT"]
REGION = ENV.get("S3_REGION", "us-east-1")
ACCESS = ENV["S3_ACCESS_KEY"]
SECRET = ENV["S3_SECRET_KEY"]
BUCKET = ENV["S3_BUCKET"]
CA = ENV.get("S3_CA_FILE") or None
STEP_TIMEOUT = int(ENV.get("CMD_TIMEOUT", "120"))

FAILED = 0
class _Wire(collections.deque):
    """The last requests/responses, dumped when a step fails (all of them with E2E_WIRE=1)."""

    def append(self, line):
        if ENV.get("E2E_WIRE"):
            print(line, file=sys.stderr)
        super().append(line)


WIRE = _Wire(maxlen=16)


def _before_send(request, **_):
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    WIRE.append(f"> {request.method} {request.url}\n  " + "\n  ".join(f"{k}: {v}" for k, v in headers.items()))


def _after_call(http_response, model, **_):
    line = f"< {model.name}: HTTP {http_response.status_code} " + " ".join(
        f"{k}={v}" for k, v in http_response.headers.items() if k.lower().startswith(("x-amz-", "etag", "content-")))
    if http_response.status_code >= 300:
        try:
            line += "\n  " + http_response.content[:600].decode("utf-8", "replace")
        except Exception:  # pragma: no cover - streaming bodies
            pass
    WIRE.append(line)


def make_client(secret=SECRET, access=ACCESS):
    cfg = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "total_max_attempts": 2},
        connect_timeout=10,
        read_timeout=min(60, STEP_TIMEOUT),
        max_pool_connections=16,
    )
    c = boto3.session.Session().client(
        "s3", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=access,
        aws_secret_access_key=secret, verify=CA if CA else None, config=cfg)
    c.meta.events.register("before-send.s3", _before_send)
    c.meta.events.register("after-call.s3", _after_call)
    return c


S3 = make_client()


class Timeout(Exception):
    pass


def _alarm(*_):
    raise Timeout(f"step timed out after {STEP_TIMEOUT} s")


signal.signal(signal.SIGALRM, _alarm)


def describe(exc):
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{exc.operation_name}: {err.get('Code')} (HTTP {status}) {err.get('Message', '')}".strip()
    if isinstance(exc, AssertionError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


SKIP_OPS = {op for op in ENV.get("E2E_SKIP_OPS", "").split(",") if op}
# The store's ETags are not content MD5s (test/e2e/targets.ts opaqueEtag): compare them with each
# other, not with an MD5 computed here.
OPAQUE_ETAG = ENV.get("E2E_OPAQUE_ETAG") == "1"
# The store holds no user metadata (a declared gap): other steps do not send any.
NO_METADATA = "metadata" in SKIP_OPS


def etag_ok(got, want):
    return got == want or (OPAQUE_ETAG and isinstance(got, str) and len(got) > 2 and got.startswith('"') and got.endswith('"'))


def step(name, critical=False):
    """Runs the decorated function now, as operation `name` (unless E2E_SKIP_OPS lists it: a store gap)."""
    def run(fn):
        global FAILED
        if name in SKIP_OPS:
            print(f"OP {name} skip", flush=True)
            return fn
        WIRE.clear()
        signal.alarm(STEP_TIMEOUT)
        try:
            fn()
            signal.alarm(0)
            print(f"OP {name} ok", flush=True)
        except BaseException as exc:  # noqa: BLE001 - report everything, including timeouts
            signal.alarm(0)
            FAILED += 1
            print(f"OP {name} FAIL {describe(exc)}".replace("\n", " "), flush=True)
            print(f"=== step {name} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            print("--- last requests/responses:\n" + "\n".join(WIRE), file=sys.stderr, flush=True)
            if critical or isinstance(exc, KeyboardInterrupt):
                sys.exit(1)
        return fn
    return run


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_error(code, status, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as exc:
        got = exc.response.get("Error", {}).get("Code")
        st = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        check(got == code and (status is None or st == status),
              f"{fn.__name__}: expected {code} (HTTP {status}), got {got} (HTTP {st}): {describe(exc)}")
        return exc
    raise AssertionError(f"{fn.__name__}: expected {code} (HTTP {status}) but the call succeeded")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def md5(data):
    return hashlib.md5(data).hexdigest()


def get_bytes(key, **kwargs):
    resp = S3.get_object(Bucket=BUCKET, Key=key, **kwargs)
    return resp, resp["Body"].read()


def check_same(expected, actual, what):
    check(sha(expected) == sha(actual),
          f"{what}: sha256 mismatch ({len(actual)} bytes received, {len(expected)} expected)")


def ssl_context():
    return ssl.create_default_context(cafile=CA) if CA else None


def http(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ssl_context(), timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


SMALL = os.urandom(1500)
MEG = os.urandom(1024 * 1024)
print(f"VERSION boto3 {boto3.__version__} (botocore {botocore.__version__})", flush=True)


@step("mb", critical=True)
def _():
    S3.create_bucket(Bucket=BUCKET)
    S3.head_bucket(Bucket=BUCKET)


@step("list-buckets")
def _():
    names = [b["Name"] for b in S3.list_buckets()["Buckets"]]
    check(BUCKET in names, f"{BUCKET} not in list_buckets: {names}")


@step("put")
def _():
    resp = S3.put_object(Bucket=BUCKET, Key="small.bin", Body=SMALL)
    check(etag_ok(resp["ETag"], f'"{md5(SMALL)}"'), f"put_object ETag {resp['ETag']} is not the quoted MD5 {md5(SMALL)}")
    _, body = get_bytes("small.bin")
    check_same(SMALL, body, "small.bin")
    S3.put_object(Bucket=BUCKET, Key="empty", Body=b"")
    resp, body = get_bytes("empty")
    check(body == b"" and resp["ContentLength"] == 0, f"empty object came back with {len(body)} bytes")


@step("get")
def _():
    S3.put_object(Bucket=BUCKET, Key="meg.bin", Body=MEG)
    resp, body = get_bytes("meg.bin")
    check_same(MEG, body, "meg.bin")
    check(resp["ContentLength"] == len(MEG), f"ContentLength {resp['ContentLength']}")
    check(etag_ok(resp["ETag"], f'"{md5(MEG)}"'), f"GET ETag {resp['ETag']} is not the quoted MD5")


@step("head")
def _():
    resp = S3.head_object(Bucket=BUCKET, Key="meg.bin")
    check(resp["ContentLength"] == len(MEG), f"head_object ContentLength {resp['ContentLength']}")
    check(etag_ok(resp["ETag"], f'"{md5(MEG)}"'), f"head_object ETag {resp['ETag']} is not the quoted MD5")
    age = abs((datetime.datetime.now(datetime.timezone.utc) - resp["LastModified"]).total_seconds())
    check(age < 600, f"LastModified {resp['LastModified']} is {age:.0f} s away from now")


@step("metadata")
def _():
    meta = {"color": "blue", "Mixed-Case": "Value With Spaces", "empty-ish": "-"}
    S3.put_object(Bucket=BUCKET, Key="meta.txt", Body=b"metadata test\n", Metadata=meta,
                  ContentType="text/plain; charset=utf-8", CacheControl="max-age=60",
                  ContentDisposition='attachment; filename="meta.txt"', ContentLanguage="en")
    want = {k.lower(): v for k, v in meta.items()}
    for label, resp in (("head_object", S3.head_object(Bucket=BUCKET, Key="meta.txt")),
                        ("get_object", S3.get_object(Bucket=BUCKET, Key="meta.txt"))):
        check(resp["Metadata"] == want, f"{label} Metadata {resp['Metadata']} != {want}")
        check(resp.get("ContentType") == "text/plain; charset=utf-8", f"{label} ContentType {resp.get('ContentType')}")
        check(resp.get("CacheControl") == "max-age=60", f"{label} CacheControl {resp.get('CacheControl')}")
        check(resp.get("ContentDisposition") == 'attachment; filename="meta.txt"',
              f"{label} ContentDisposition {resp.get('ContentDisposition')}")
        check(resp.get("ContentLanguage") == "en", f"{label} ContentLanguage {resp.get('ContentLanguage')}")
        if label == "get_object":
            check(resp["Body"].read() == b"metadata test\n", "get_object body differs")


@step("range-get")
def _():
    n = len(MEG)
    for rng, lo, hi in (("bytes=100-199", 100, 199), ("bytes=-50", n - 50, n - 1),
                        (f"bytes={n - 76}-", n - 76, n - 1), ("bytes=0-0", 0, 0),
                        (f"bytes=1000-{n + 1000}", 1000, n - 1)):
        resp, body = get_bytes("meg.bin", Range=rng)
        status = resp["ResponseMetadata"]["HTTPStatusCode"]
        check(status == 206, f"Range {rng}: HTTP {status}, expected 206")
        check_same(MEG[lo:hi + 1], body, f"Range {rng}")
        check(resp.get("ContentRange") == f"bytes {lo}-{hi}/{n}",
              f"Range {rng}: Content-Range {resp.get('ContentRange')!r}, expected 'bytes {lo}-{hi}/{n}'")
        check(resp["ContentLength"] == hi - lo + 1, f"Range {rng}: ContentLength {resp['ContentLength']}")
    expect_error("InvalidRange", 416, S3.get_object, Bucket=BUCKET, Key="meg.bin", Range=f"bytes={n + 10}-{n + 20}")


@step("checksum")
def _():
    # botocore puts a header checksum over http and an aws-chunked trailer over https.
    for algo, field, value in (("CRC32", "ChecksumCRC32", crc32_b64(MEG)), ("SHA256", "ChecksumSHA256", sha256_b64(MEG))):
        key = f"checksum-{algo}.bin"
        resp = S3.put_object(Bucket=BUCKET, Key=key, Body=MEG, ChecksumAlgorithm=algo)
        if field in resp:
            check(resp[field] == value, f"put_object {field} {resp[field]} != {value}")
        else:
            print(f"note: put_object response has no {field}", file=sys.stderr)
        check(etag_ok(resp["ETag"], f'"{md5(MEG)}"'), f"put_object({algo}) ETag {resp['ETag']}: stored bytes are not the payload")
        # ChecksumMode=ENABLED: botocore validates the returned checksum against the body.
        got, body = get_bytes(key, ChecksumMode="ENABLED")
        check_same(MEG, body, f"{key} (aws-chunked framing stored in the object?)")
        if field in got:
            check(got[field] == value, f"get_object {field} {got[field]} != {value}")
        else:
            print(f"note: get_object with ChecksumMode=ENABLED returned no {field}", file=sys.stderr)
        # A ranged GET must not carry the whole-object checksum (boto3 would fail validating it).
        got, body = get_bytes(key, ChecksumMode="ENABLED", Range="bytes=10-20")
        check_same(MEG[10:21], body, f"{key} range with ChecksumMode")
    # A wrong Content-MD5 is refused and nothing is stored.
    bad = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    expect_error("BadDigest", 400, S3.put_object, Bucket=BUCKET, Key="bad-md5.bin", Body=SMALL, ContentMD5=bad)
    expect_error("404", 404, S3.head_object, Bucket=BUCKET, Key="bad-md5.bin")


@step("cond-get")
def _():
    head = S3.head_object(Bucket=BUCKET, Key="meg.bin")
    etag, mtime = head["ETag"], head["LastModified"]
    expect_error("304", 304, S3.get_object, Bucket=BUCKET, Key="meg.bin", IfNoneMatch=etag)
    resp, body = get_bytes("meg.bin", IfMatch=etag)
    check_same(MEG, body, "If-Match (matching)")
    expect_error("PreconditionFailed", 412, S3.get_object, Bucket=BUCKET, Key="meg.bin", IfMatch='"0123456789abcdef0123456789abcdef"')
    # Not modified since its own Last-Modified (a date in the future would be ignored, as S3 ignores it).
    expect_error("304", 304, S3.get_object, Bucket=BUCKET, Key="meg.bin", IfModifiedSince=mtime)
    resp, body = get_bytes("meg.bin", IfModifiedSince=mtime - datetime.timedelta(hours=1))
    check_same(MEG, body, "If-Modified-Since (older)")
    expect_error("PreconditionFailed", 412, S3.get_object, Bucket=BUCKET, Key="meg.bin",
                 IfUnmodifiedSince=mtime - datetime.timedelta(hours=1))
    resp, body = get_bytes("meg.bin", IfNoneMatch='"0123456789abcdef0123456789abcdef"')
    check_same(MEG, body, "If-None-Match (other ETag)")


@step("copy")
def _():
    if NO_METADATA:
        # The metadata step did not run (a store gap): its object, without metadata.
        S3.put_object(Bucket=BUCKET, Key="meta.txt", Body=b"metadata test\n", ContentType="text/plain; charset=utf-8")
    resp = S3.copy_object(Bucket=BUCKET, Key="meta-copy.txt", CopySource={"Bucket": BUCKET, "Key": "meta.txt"})
    src = S3.head_object(Bucket=BUCKET, Key="meta.txt")
    check(etag_ok(resp["CopyObjectResult"]["ETag"], src["ETag"]), f"copy ETag {resp['CopyObjectResult']['ETag']} != source {src['ETag']}")
    dst = S3.head_object(Bucket=BUCKET, Key="meta-copy.txt")
    check(dst["Metadata"] == src["Metadata"], f"COPY directive lost metadata: {dst['Metadata']} vs {src['Metadata']}")
    check(dst.get("ContentType") == src.get("ContentType"), f"COPY directive changed ContentType to {dst.get('ContentType')}")
    _, body = get_bytes("meta-copy.txt")
    check(body == b"metadata test\n", "copied body differs")
    # Source key that needs URL encoding.
    S3.put_object(Bucket=BUCKET, Key="copy src/ü+plus.bin", Body=SMALL)
    S3.copy_object(Bucket=BUCKET, Key="copy dst/ü+plus.bin", CopySource={"Bucket": BUCKET, "Key": "copy src/ü+plus.bin"})
    _, body = get_bytes("copy dst/ü+plus.bin")
    check_same(SMALL, body, "copy of a key with space, unicode and plus")


@step("copy-replace-meta")
def _():
    S3.copy_object(Bucket=BUCKET, Key="meta-replaced.txt", CopySource={"Bucket": BUCKET, "Key": "meta.txt"},
                   MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="application/json")
    dst = S3.head_object(Bucket=BUCKET, Key="meta-replaced.txt")
    check(dst["Metadata"] == {"new": "yes"}, f"REPLACE metadata is {dst['Metadata']}, expected {{'new': 'yes'}}")
    check(dst.get("ContentType") == "application/json", f"REPLACE ContentType is {dst.get('ContentType')}")
    _, body = get_bytes("meta-replaced.txt")
    check(body == b"metadata test\n", "copied body differs")
    # Copy onto itself with REPLACE is how clients change metadata in place.
    S3.copy_object(Bucket=BUCKET, Key="meta-replaced.txt", CopySource={"Bucket": BUCKET, "Key": "meta-replaced.txt"},
                   MetadataDirective="REPLACE", Metadata={"newer": "2"})
    dst = S3.head_object(Bucket=BUCKET, Key="meta-replaced.txt")
    check(dst["Metadata"] == {"newer": "2"}, f"in-place REPLACE metadata is {dst['Metadata']}")
    _, body = get_bytes("meta-replaced.txt")
    check(body == b"metadata test\n", "in-place copied body differs")


class _Stream(io.RawIOBase):
    """A pipe-like reader: no seek, no size, short reads (read through a BufferedReader, as a pipe's file object is)."""

    def __init__(self, data):
        self._data, self._at = data, 0

    def readable(self):
        return True

    def readinto(self, buf):
        n = min(len(buf), 64 * 1024, len(self._data) - self._at)
        buf[:n] = self._data[self._at:self._at + n]
        self._at += n
        return n


# Managed transfers forced into threads and 5 MiB parts.
THREADED = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024,
                          max_concurrency=4, use_threads=True)


@step("put-stream")
def _():
    data = os.urandom(11 * 1024 * 1024 + 3)
    S3.upload_fileobj(io.BufferedReader(_Stream(data)), BUCKET, "stream/fileobj.bin", Config=THREADED)
    head = S3.head_object(Bucket=BUCKET, Key="stream/fileobj.bin")
    check(head["ContentLength"] == len(data), f"upload_fileobj: ContentLength {head['ContentLength']}")
    check(OPAQUE_ETAG or head["ETag"].endswith('-3"'), f"upload_fileobj of 11 MiB in 5 MiB parts: ETag {head['ETag']}, expected 3 parts")
    out = io.BytesIO()
    S3.download_fileobj(BUCKET, "stream/fileobj.bin", out, Config=THREADED)  # parallel ranged GETs
    check_same(data, out.getvalue(), "download_fileobj")


@step("copy-multipart")
def _():
    # The managed copy of a source above the threshold: CreateMultipartUpload + UploadPartCopy.
    src = S3.head_object(Bucket=BUCKET, Key="stream/fileobj.bin")
    S3.copy({"Bucket": BUCKET, "Key": "stream/fileobj.bin"}, BUCKET, "stream/copied.bin", Config=THREADED)
    dst = S3.head_object(Bucket=BUCKET, Key="stream/copied.bin")
    check(dst["ContentLength"] == src["ContentLength"], f"managed copy: ContentLength {dst['ContentLength']}")
    check(OPAQUE_ETAG or dst["ETag"].endswith('-3"'), f"managed copy of 11 MiB in 5 MiB parts: ETag {dst['ETag']}, expected 3 parts")
    _, a = get_bytes("stream/fileobj.bin")
    _, b = get_bytes("stream/copied.bin")
    check_same(a, b, "managed multipart copy")


@step("tagging")
def _():
    S3.put_object(Bucket=BUCKET, Key="tagged.bin", Body=SMALL, Tagging="team=e2e&note=a%20b%2Bc")
    resp = S3.get_object(Bucket=BUCKET, Key="tagged.bin")
    check(resp.get("TagCount") == 2, f"get_object TagCount {resp.get('TagCount')}, expected 2")
    tags = {t["Key"]: t["Value"] for t in S3.get_object_tagging(Bucket=BUCKET, Key="tagged.bin")["TagSet"]}
    check(tags == {"team": "e2e", "note": "a b+c"}, f"tags set by put_object: {tags}")
    S3.put_object_tagging(Bucket=BUCKET, Key="tagged.bin", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    S3.copy_object(Bucket=BUCKET, Key="tagged-copy.bin", CopySource={"Bucket": BUCKET, "Key": "tagged.bin"})
    tags = {t["Key"]: t["Value"] for t in S3.get_object_tagging(Bucket=BUCKET, Key="tagged-copy.bin")["TagSet"]}
    check(tags == {"k": "v"}, f"a copy (TaggingDirective COPY) has tags {tags}")
    S3.delete_object_tagging(Bucket=BUCKET, Key="tagged.bin")
    check(S3.get_object_tagging(Bucket=BUCKET, Key="tagged.bin")["TagSet"] == [], "tags left after delete_object_tagging")
    S3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "tagged.bin"}, {"Key": "tagged-copy.bin"}], "Quiet": True})


@step("err-NotImplemented")
def _():
    # S3 Select is not offered: refused with S3's error, never a 200 that ignored the request.
    exc = expect_error("NotImplemented", 501, S3.select_object_content, Bucket=BUCKET, Key="meg.bin",
                       Expression="SELECT * FROM S3Object", ExpressionType="SQL",
                       InputSerialization={"CSV": {}}, OutputSerialization={"CSV": {}})
    check(exc.response["Error"].get("Message"), "NotImplemented without a message")


@step("presign-put")
def _():
    key = "presigned/ünï code+x.bin"
    url = S3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    status, _, body = http("PUT", url, data=MEG, headers={"Content-Type": "application/octet-stream"})
    check(status == 200, f"presigned PUT -> HTTP {status}: {body[:300]!r}")
    _, got = get_bytes(key)
    check_same(MEG, got, "object uploaded with a presigned PUT")


@step("presign-get")
def _():
    for key, data in (("meg.bin", MEG), ("presigned/ünï code+x.bin", MEG)):
        url = S3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
        status, _, body = http("GET", url)
        check(status == 200, f"presigned GET {key} -> HTTP {status}: {body[:300]!r}")
        check_same(data, body, f"presigned GET {key}")
    # A download link naming the file (issue 10: this used to end the server).
    disposition = 'attachment; filename="résumé-文件.pdf"'
    url = S3.generate_presigned_url("get_object", ExpiresIn=300,
                                    Params={"Bucket": BUCKET, "Key": "meg.bin", "ResponseContentDisposition": disposition})
    status, headers, body = http("GET", url)
    check(status == 200, f"presigned GET with ResponseContentDisposition -> HTTP {status}: {body[:300]!r}")
    got = headers.get("Content-Disposition", "").encode("latin-1").decode("utf-8")
    check(got == disposition, f"Content-Disposition {got!r}, expected {disposition!r}")
    url = S3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "meg.bin"}, ExpiresIn=1)
    time.sleep(2.1)
    status, _, body = http("GET", url)
    check(status == 403, f"expired presigned GET -> HTTP {status}, expected 403")
    tampered = S3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "meg.bin"}, ExpiresIn=300)
    status, _, body = http("GET", tampered.replace("meg.bin", "small.bin"))
    check(status == 403 and b"SignatureDoesNotMatch" in body,
          f"presigned URL for another key -> HTTP {status} {body[:200]!r}, expected 403 SignatureDoesNotMatch")


def post_form(url, fields, filename, data):
    """A multipart/form-data POST (a browser upload form), fields in order, the file last."""
    boundary = "----e2e" + os.urandom(8).hex()
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f'Content-Type: application/octet-stream\r\n\r\n'.encode() + data + f"\r\n--{boundary}--\r\n".encode())
    return http("POST", url, data=b"".join(parts), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


@step("presign-post")
def _():
    # generate_presigned_post: a policy with conditions, ${filename} in the key, 201 with an XML answer.
    post = S3.generate_presigned_post(
        BUCKET, "posted/${filename}", Fields={"success_action_status": "201", "Content-Type": "text/plain"},
        Conditions=[["content-length-range", 1, 4096], {"success_action_status": "201"},
                    ["starts-with", "$Content-Type", "text/"], ["starts-with", "$key", "posted/"]], ExpiresIn=300)
    status, _, body = post_form(post["url"], post["fields"], "hello.txt", SMALL)
    check(status == 201 and b"<Key>posted/hello.txt</Key>" in body, f"presigned POST -> HTTP {status}: {body[:300]!r}")
    resp, got = get_bytes("posted/hello.txt")
    check_same(SMALL, got, "object uploaded with a presigned POST")
    check(resp.get("ContentType") == "text/plain", f"POSTed object ContentType {resp.get('ContentType')}")
    # Outside the policy's content-length-range: refused, nothing stored.
    status, _, body = post_form(post["url"], post["fields"], "big.txt", MEG)
    check(status == 400 and b"EntityTooLarge" in body, f"POST above content-length-range -> HTTP {status}: {body[:300]!r}")
    expect_error("404", 404, S3.head_object, Bucket=BUCKET, Key="posted/big.txt")


PART = 5 * 1024 * 1024


@step("multipart")
def _():
    key = "multipart/mp.bin"
    parts_data = [os.urandom(PART), os.urandom(PART), os.urandom(1024 * 1024 + 1)]
    up = S3.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata={} if NO_METADATA else {"mp": "yes"}, ContentType="application/x-test")
    uid = up["UploadId"]
    parts = []
    for i, data in enumerate(parts_data, start=1):
        resp = S3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=i, Body=data)
        check(resp["ETag"] == f'"{md5(data)}"', f"upload_part {i} ETag {resp['ETag']} is not the part's MD5")
        parts.append({"PartNumber": i, "ETag": resp["ETag"]})
    resp = S3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": parts})
    want = '"%s-3"' % hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest()
    check(etag_ok(resp["ETag"], want), f"complete_multipart_upload ETag {resp['ETag']}, expected {want}")
    head = S3.head_object(Bucket=BUCKET, Key=key)
    total = b"".join(parts_data)
    check(head["ContentLength"] == len(total), f"ContentLength {head['ContentLength']}, expected {len(total)}")
    check(etag_ok(head["ETag"], want) and head["ETag"] == resp["ETag"], f"head_object ETag {head['ETag']}, expected {want}")
    check(head["Metadata"] == ({} if NO_METADATA else {"mp": "yes"}), f"metadata from create_multipart_upload: {head['Metadata']}")
    check(head.get("ContentType") == "application/x-test", f"ContentType {head.get('ContentType')}")
    _, body = get_bytes(key)
    check_same(total, body, key)
    _, body = get_bytes(key, Range=f"bytes={PART - 10}-{PART + 9}")
    check_same(total[PART - 10:PART + 10], body, "range across the part boundary")
    ups = S3.list_multipart_uploads(Bucket=BUCKET, Prefix="multipart/").get("Uploads", [])
    check(all(u["UploadId"] != uid for u in ups), "completed upload still in list_multipart_uploads")


@step("get-part")
def _():
    # HEAD and GET of one part (partNumber) of the 3-part object of the multipart step.
    key = "multipart/mp.bin"
    for label, call in (("head_object", S3.head_object), ("get_object", S3.get_object)):
        resp = call(Bucket=BUCKET, Key=key, PartNumber=2)
        status = resp["ResponseMetadata"]["HTTPStatusCode"]
        check(status == 206, f"{label} PartNumber=2: HTTP {status}, expected 206")
        check(resp["ContentLength"] == PART, f"{label} PartNumber=2: ContentLength {resp['ContentLength']}, expected {PART}")
        check(resp.get("PartsCount") == 3, f"{label} PartNumber=2: PartsCount {resp.get('PartsCount')}, expected 3")
        if label == "get_object":
            check(resp.get("ContentRange") == f"bytes {PART}-{2 * PART - 1}/{2 * PART + 1024 * 1024 + 1}",
                  f"get_object PartNumber=2: ContentRange {resp.get('ContentRange')}")
            _, whole = get_bytes(key, Range=f"bytes={PART}-{2 * PART - 1}")
            check_same(whole, resp["Body"].read(), "get_object PartNumber=2")
    expect_error("InvalidPartNumber", 416, S3.get_object, Bucket=BUCKET, Key=key, PartNumber=4)


@step("list-parts")
def _():
    key = "multipart/listed.bin"
    uid = S3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    try:
        datas = [os.urandom(1000 + i) for i in range(3)]
        etags = [S3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=i + 1, Body=d)["ETag"]
                 for i, d in enumerate(datas)]
        resp = S3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)
        got = [(p["PartNumber"], p["Size"], p["ETag"]) for p in resp.get("Parts", [])]
        want = [(i + 1, len(d), etags[i]) for i, d in enumerate(datas)]
        check(got == want, f"list_parts {got} != {want}")
        check(not resp.get("IsTruncated"), "list_parts of 3 parts is truncated")
        first = S3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid, MaxParts=2)
        check([p["PartNumber"] for p in first.get("Parts", [])] == [1, 2], f"MaxParts=2 page: {first.get('Parts')}")
        check(first.get("IsTruncated") is True, "MaxParts=2 of 3: IsTruncated should be true")
        check(str(first.get("NextPartNumberMarker")) == "2", f"NextPartNumberMarker {first.get('NextPartNumberMarker')}")
        rest = S3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid, PartNumberMarker=2)
        check([p["PartNumber"] for p in rest.get("Parts", [])] == [3], f"PartNumberMarker=2 page: {rest.get('Parts')}")
        check(not rest.get("IsTruncated"), "last ListParts page is truncated")
        # Re-uploading a part replaces it.
        new = os.urandom(999)
        etag = S3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=2, Body=new)["ETag"]
        resp = S3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)
        got = [(p["PartNumber"], p["Size"], p["ETag"]) for p in resp.get("Parts", [])]
        check(got[1] == (2, 999, etag) and len(got) == 3, f"after re-uploading part 2: {got}")
    finally:
        try:
            S3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
        except ClientError:
            pass


@step("abort-multipart")
def _():
    key = "multipart/aborted.bin"
    uid = S3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    S3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=1, Body=os.urandom(2048))
    ups = S3.list_multipart_uploads(Bucket=BUCKET, Prefix="multipart/").get("Uploads", [])
    check(any(u["UploadId"] == uid and u["Key"] == key for u in ups), f"upload {uid} not in list_multipart_uploads: {ups}")
    S3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
    expect_error("NoSuchUpload", 404, S3.list_parts, Bucket=BUCKET, Key=key, UploadId=uid)
    expect_error("NoSuchUpload", 404, S3.upload_part, Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=2, Body=b"x")
    ups = S3.list_multipart_uploads(Bucket=BUCKET, Prefix="multipart/").get("Uploads", [])
    check(all(u["UploadId"] != uid for u in ups), "aborted upload still in list_multipart_uploads")
    expect_error("404", 404, S3.head_object, Bucket=BUCKET, Key=key)


# 1100 keys: 10 "folders" of 105 keys and 50 keys directly under many/.
MANY = sorted([f"many/d{d:02d}/k{i:04d}" for d in range(10) for i in range(105)] + [f"many/top-{i:03d}" for i in range(50)])


def upload_many():
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=12)
    try:
        list(pool.map(lambda k: S3.put_object(Bucket=BUCKET, Key=k, Body=k.encode()), MANY))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a step timeout must not wait for hung requests


def paginate(op, **kwargs):
    pages = list(S3.get_paginator(op).paginate(Bucket=BUCKET, **kwargs))
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    return pages, keys, prefixes


@step("list-paged")
def _():
    upload_many()
    pages, keys, _ = paginate("list_objects_v2", Prefix="many/")
    check(len(pages) == 2, f"1100 keys with the default MaxKeys (1000): {len(pages)} pages, expected 2")
    check(keys == MANY, f"list_objects_v2: {len(keys)} keys, expected the 1100 in order (first difference at "
          f"{next((i for i, (a, b) in enumerate(zip(keys, MANY)) if a != b), min(len(keys), len(MANY)))})")
    check(pages[0].get("KeyCount") == 1000 and pages[0].get("IsTruncated") is True, f"first page KeyCount {pages[0].get('KeyCount')}")
    pages, keys, _ = paginate("list_objects_v2", Prefix="many/", PaginationConfig={"PageSize": 300})
    check(len(pages) == 4 and keys == MANY, f"PageSize 300: {len(pages)} pages, {len(keys)} keys")
    pages, keys, _ = paginate("list_objects_v2", Prefix="many/d03/", StartAfter="many/d03/k0099")
    check(keys == [f"many/d03/k{i:04d}" for i in range(100, 105)], f"StartAfter: {keys}")


@step("list-delimiter")
def _():
    want_prefixes = [f"many/d{d:02d}/" for d in range(10)]
    want_keys = [k for k in MANY if k.startswith("many/top-")]
    for size in (7, 1000):
        pages, keys, prefixes = paginate("list_objects_v2", Prefix="many/", Delimiter="/", PaginationConfig={"PageSize": size})
        check(prefixes == want_prefixes, f"PageSize {size}: CommonPrefixes {prefixes}")
        check(keys == want_keys, f"PageSize {size}: {len(keys)} keys under many/ (expected {len(want_keys)})")
        if size == 7:
            check(len(pages) == 9, f"60 entries in pages of 7: {len(pages)} pages, expected 9")
    resp = S3.list_objects_v2(Bucket=BUCKET, Prefix="many/d05/k010", Delimiter="/")
    check([o["Key"] for o in resp.get("Contents", [])] == [f"many/d05/k{i:04d}" for i in range(100, 105)],
          f"prefix inside a folder: {resp.get('Contents')}")


@step("list-v1")
def _():
    pages, keys, _ = paginate("list_objects", Prefix="many/", PaginationConfig={"PageSize": 400})
    check(len(pages) == 3 and keys == MANY, f"list_objects PageSize 400: {len(pages)} pages, {len(keys)} keys")
    # With a delimiter the next marker must come from NextMarker (it may be a CommonPrefix).
    pages, keys, prefixes = paginate("list_objects", Prefix="many/", Delimiter="/", PaginationConfig={"PageSize": 7})
    check(prefixes == [f"many/d{d:02d}/" for d in range(10)], f"v1 + delimiter CommonPrefixes {prefixes}")
    check(keys == [k for k in MANY if k.startswith("many/top-")], f"v1 + delimiter: {len(keys)} keys")


@step("delete-many")
def _():
    deleted = 0
    for i in range(0, len(MANY), 1000):  # at most 1000 keys per request
        batch = [{"Key": k} for k in MANY[i:i + 1000]]
        if i + 1000 >= len(MANY):
            batch.append({"Key": "many/never-existed"})  # deleting a missing key is reported as deleted
        resp = S3.delete_objects(Bucket=BUCKET, Delete={"Objects": batch})
        check(not resp.get("Errors"), f"delete_objects errors: {resp.get('Errors', [])[:3]}")
        deleted += len(resp.get("Deleted", []))
    check(deleted == len(MANY) + 1, f"delete_objects reported {deleted} deleted, expected {len(MANY) + 1}")
    resp = S3.list_objects_v2(Bucket=BUCKET, Prefix="many/")
    check(resp.get("KeyCount") == 0, f"{resp.get('KeyCount')} keys left under many/")
    resp = S3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "meta-copy.txt"}], "Quiet": True})
    check(not resp.get("Deleted") and not resp.get("Errors"), f"Quiet delete_objects answered {resp}")
    expect_error("404", 404, S3.head_object, Bucket=BUCKET, Key="meta-copy.txt")


@step("delete")
def _():
    S3.delete_object(Bucket=BUCKET, Key="small.bin")
    expect_error("404", 404, S3.head_object, Bucket=BUCKET, Key="small.bin")
    S3.delete_object(Bucket=BUCKET, Key="small.bin")  # deleting a missing key succeeds


@step("err-NoSuchKey")
def _():
    expect_error("NoSuchKey", 404, S3.get_object, Bucket=BUCKET, Key="no/such/key")
    expect_error("404", 404, S3.head_object, Bucket=BUCKET, Key="no/such/key")


@step("err-NoSuchBucket")
def _():
    expect_error("NoSuchBucket", 404, S3.list_objects_v2, Bucket="e2e-no-such-bucket")
    expect_error("NoSuchBucket", 404, S3.get_object, Bucket="e2e-no-such-bucket", Key="k")
    expect_error("NoSuchBucket", 404, S3.put_object, Bucket="e2e-no-such-bucket", Key="k", Body=b"x")
    expect_error("404", 404, S3.head_bucket, Bucket="e2e-no-such-bucket")


@step("err-BucketNotEmpty")
def _():
    expect_error("BucketNotEmpty", 409, S3.delete_bucket, Bucket=BUCKET)
    S3.head_bucket(Bucket=BUCKET)


@step("err-SignatureDoesNotMatch")
def _():
    bad = make_client(secret=SECRET + "x")
    expect_error("SignatureDoesNotMatch", 403, bad.list_objects_v2, Bucket=BUCKET)
    expect_error("SignatureDoesNotMatch", 403, bad.put_object, Bucket=BUCKET, Key="evil", Body=b"x")
    expect_error("404", 404, S3.head_object, Bucket=BUCKET, Key="evil")
    unknown = make_client(access="E2ENOSUCHACCESSKEY")
    expect_error("InvalidAccessKeyId", 403, unknown.list_objects_v2, Bucket=BUCKET)


@step("rb")
def _():
    while True:
        resp = S3.list_objects_v2(Bucket=BUCKET)
        objs = [{"Key": o["Key"]} for o in resp.get("Contents", [])]
        if not objs:
            break
        S3.delete_objects(Bucket=BUCKET, Delete={"Objects": objs, "Quiet": True})
    for up in S3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        S3.abort_multipart_upload(Bucket=BUCKET, Key=up["Key"], UploadId=up["UploadId"])
    S3.delete_bucket(Bucket=BUCKET)
    expect_error("404", 404, S3.head_bucket, Bucket=BUCKET)
    names = [b["Name"] for b in S3.list_buckets()["Buckets"]]
    check(BUCKET not in names, f"{BUCKET} still in list_buckets")


sys.exit(1 if FAILED else 0)
