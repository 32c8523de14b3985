"""A stand-in for the AWS endpoints an ingestd instance talks to, for tests:
one threaded HTTP server on 127.0.0.1 (a free port) serving

  - per-instance IMDSv2 under /imds/<instance-id>/ (token, instance-id, the
    Auto Scaling target lifecycle state, the instance identity document);
  - the Auto Scaling Query API (form-encoded POST, XML answers):
    RecordLifecycleActionHeartbeat, CompleteLifecycleAction, SetInstanceHealth;
  - SSM's JSON 1.1 API (X-Amz-Target: AmazonSSM.*): GetParametersByPath,
    GetParameter.

The AWS CLI reaches the API through `aws --endpoint-url <fake.endpoint>`; it
signs every request, so run it with fake credentials (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION) and AWS_EC2_METADATA_DISABLED=true.
The fake accepts any SigV4 signature but refuses a request without one. The
CLI retries 5xx and throttling answers on its own: set AWS_MAX_ATTEMPTS=1 to
see an injected failure instead of the retry.

    fake = FakeAws()
    fake.start()
    try:
        imds = fake.add_instance("i-a")                 # http://127.0.0.1:PORT/imds/i-a
        fake.set_lifecycle_state("i-a", "Terminated")   # Terminating:Wait
        fake.put_parameter("/ingestd/z/tls/server.key", "...")  # a SecureString
        fake.fail_next("CompleteLifecycleAction", status=500)
        ... run `aws --endpoint-url {fake.endpoint} autoscaling ...` ...
        assert [c["action"] for c in fake.calls()] == [...]
    finally:
        fake.stop()

Lifecycle actions behave like the real API: an instance whose target
lifecycle state is "Terminated" has one pending action, which
CompleteLifecycleAction ends; heartbeats or completions for an instance
without a pending action fail with a ValidationError, as AWS answers.
"""

import base64
import http.server
import json
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

_ASG_XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
_ASG_VERSION = "2011-01-01"
# GetParametersByPath returns at most 10 parameters a page (MaxResults <= 10).
_SSM_MAX_PAGE = 10


class _ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _Instance:
    def __init__(self, instance_id, lifecycle_state, region):
        self.instance_id = instance_id
        self.lifecycle_state = lifecycle_state
        self.region = region
        self.tokens = {}  # token -> expiry (monotonic seconds)
        self.action_pending = lifecycle_state == "Terminated"
        self.action_result = None  # "CONTINUE" / "ABANDON" once completed
        self.health = "Healthy"


class FakeAws:
    """The fake endpoints. Every public method is thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._instances = {}
        self._parameters = {}  # name -> {"value", "type", "version", "modified"}
        self._calls = []
        self._failures = {}  # action -> [status, remaining count]
        self._server = None
        self._thread = None
        # Parameters per GetParametersByPath page unless the request asks for
        # fewer; lower it to exercise paging with few parameters.
        self.page_size = _SSM_MAX_PAGE

    # --- lifecycle of the fake -------------------------------------------

    def start(self):
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint(self):
        """http://127.0.0.1:PORT, for `aws --endpoint-url`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- instances (IMDS, Auto Scaling) ------------------------------------

    def add_instance(self, instance_id, lifecycle_state="InService", region="eu-west-1"):
        """Registers an instance; returns its IMDS base URL (no trailing slash)."""
        with self._lock:
            self._instances[instance_id] = _Instance(instance_id, lifecycle_state, region)
        return f"{self.endpoint}/imds/{instance_id}"

    def set_lifecycle_state(self, instance_id, state):
        """Sets the target lifecycle state IMDS reports. Entering "Terminated"
        starts a lifecycle action (the instance waits in Terminating:Wait)."""
        with self._lock:
            inst = self._instances[instance_id]
            if state == "Terminated" and inst.lifecycle_state != "Terminated":
                inst.action_pending = True
                inst.action_result = None
            elif state != "Terminated":
                inst.action_pending = False
            inst.lifecycle_state = state

    def health(self, instance_id):
        """"Healthy" or "Unhealthy", as last set by SetInstanceHealth."""
        with self._lock:
            return self._instances[instance_id].health

    def lifecycle_action_result(self, instance_id):
        """None while the action is pending (or there is none), else the
        LifecycleActionResult CompleteLifecycleAction gave."""
        with self._lock:
            return self._instances[instance_id].action_result

    # --- SSM Parameter Store -----------------------------------------------

    def put_parameter(self, name, value, secure=True):
        """Creates or overwrites a parameter (SecureString unless secure=False:
        then String)."""
        if not name.startswith("/"):
            raise ValueError(f"parameter names here are hierarchical (start with /): {name!r}")
        with self._lock:
            old = self._parameters.get(name)
            self._parameters[name] = {
                "value": value,
                "type": "SecureString" if secure else "String",
                "version": (old["version"] + 1) if old else 1,
                "modified": time.time(),
            }

    # --- what happened, and failures ---------------------------------------

    def calls(self, action=None):
        """API calls in arrival order (IMDS requests are not listed), each
        {"action", "params", "time" (unix seconds), "status" (HTTP status
        answered)}; only those of `action` if given. Failed calls are listed."""
        with self._lock:
            return [dict(c) for c in self._calls if action is None or c["action"] == action]

    def fail_next(self, action, status=500, times=1):
        """The next `times` calls of `action` get HTTP `status` with an error
        body (InternalFailure for 5xx, Throttling otherwise)."""
        with self._lock:
            self._failures[action] = [status, times]

    # --- request handling (called from the server's threads) ---------------

    def _record(self, action, params, status):
        with self._lock:
            self._calls.append({"action": action, "params": params, "time": time.time(), "status": status})

    def _take_failure(self, action):
        with self._lock:
            failure = self._failures.get(action)
            if not failure:
                return None
            failure[1] -= 1
            if failure[1] <= 0:
                del self._failures[action]
            return failure[0]

    def _imds(self, method, instance_id, path, headers):
        """Returns (status, content type, body)."""
        with self._lock:
            inst = self._instances.get(instance_id)
            if inst is None:
                return 404, "text/plain", "no such instance\n"
            now = time.monotonic()
            if method == "PUT":
                if path != "/latest/api/token":
                    return 405, "text/plain", "method not allowed\n"
                ttl = headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    return 400, "text/plain", "missing or invalid X-aws-ec2-metadata-token-ttl-seconds\n"
                token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
                inst.tokens[token] = now + int(ttl)
                return 200, "text/plain", token
            if method != "GET":
                return 405, "text/plain", "method not allowed\n"
            token = headers.get("X-aws-ec2-metadata-token")
            if token is None or inst.tokens.get(token, 0) < now:
                return 401, "text/plain", "unauthorized\n"
            if path == "/latest/meta-data/instance-id":
                return 200, "text/plain", inst.instance_id
            if path == "/latest/meta-data/autoscaling/target-lifecycle-state":
                return 200, "text/plain", inst.lifecycle_state
            if path == "/latest/dynamic/instance-identity/document":
                doc = {
                    "instanceId": inst.instance_id,
                    "region": inst.region,
                    "availabilityZone": inst.region + "a",
                    "accountId": "123456789012",
                    "instanceType": "c7g.large",
                    "imageId": "ami-00000000000000000",
                    "architecture": "arm64",
                }
                return 200, "application/json", json.dumps(doc, indent=2)
            return 404, "text/plain", "not found\n"

    # Auto Scaling -------------------------------------------------------

    def _autoscaling(self, action, params):
        """Returns the Result element's inner XML (None: no Result element)."""
        if action == "SetInstanceHealth":
            _require(params, "InstanceId", "HealthStatus")
            if params["HealthStatus"] not in ("Healthy", "Unhealthy"):
                raise _ApiError(400, "ValidationError", "HealthStatus must be Healthy or Unhealthy")
            if params.get("ShouldRespectGracePeriod", "true") not in ("true", "false"):
                raise _ApiError(400, "ValidationError", "ShouldRespectGracePeriod must be a boolean")
            with self._lock:
                inst = self._instances.get(params["InstanceId"])
                if inst is None:
                    raise _ApiError(400, "ValidationError", f"Instance Id not found - {params['InstanceId']}")
                inst.health = params["HealthStatus"]
            return None
        if action in ("RecordLifecycleActionHeartbeat", "CompleteLifecycleAction"):
            _require(params, "LifecycleHookName", "AutoScalingGroupName")
            if action == "CompleteLifecycleAction":
                _require(params, "LifecycleActionResult")
                if params["LifecycleActionResult"] not in ("CONTINUE", "ABANDON"):
                    raise _ApiError(400, "ValidationError", "LifecycleActionResult must be CONTINUE or ABANDON")
            instance_id = params.get("InstanceId")
            if not instance_id and not params.get("LifecycleActionToken"):
                raise _ApiError(400, "ValidationError", "Either LifecycleActionToken or InstanceId is required")
            with self._lock:
                inst = self._instances.get(instance_id)
                if inst is None or not inst.action_pending:
                    raise _ApiError(400, "ValidationError",
                                    f"No active Lifecycle Action found with instance ID {instance_id}")
                if action == "CompleteLifecycleAction":
                    inst.action_pending = False
                    inst.action_result = params["LifecycleActionResult"]
            return ""
        raise _ApiError(400, "InvalidAction", f"The action {action} is not valid for this web service.")

    # SSM ----------------------------------------------------------------

    def _parameter_json(self, name, param, decrypt):
        value = param["value"]
        if param["type"] == "SecureString" and not decrypt:
            # What AWS returns without WithDecryption: the encrypted blob.
            value = base64.b64encode(b"encrypted:" + value.encode()).decode()
        return {
            "Name": name,
            "Type": param["type"],
            "Value": value,
            "Version": param["version"],
            "LastModifiedDate": param["modified"],
            "ARN": f"arn:aws:ssm:eu-west-1:123456789012:parameter{name}",
            "DataType": "text",
        }

    def _ssm(self, operation, body):
        if operation == "GetParameter":
            name = body.get("Name")
            if not isinstance(name, str) or not name:
                raise _ApiError(400, "ValidationException", "Name is required")
            with self._lock:
                param = self._parameters.get(name)
                if param is None:
                    raise _ApiError(400, "ParameterNotFound", f"Parameter {name} not found.")
                return {"Parameter": self._parameter_json(name, param, bool(body.get("WithDecryption")))}
        if operation == "GetParametersByPath":
            path = body.get("Path")
            if not isinstance(path, str) or not path.startswith("/"):
                raise _ApiError(400, "ValidationException", "Path must be a hierarchy starting with /")
            max_results = body.get("MaxResults", _SSM_MAX_PAGE)
            if not isinstance(max_results, int) or not 1 <= max_results <= _SSM_MAX_PAGE:
                raise _ApiError(400, "ValidationException", "MaxResults must be between 1 and 10")
            prefix = path.rstrip("/") + "/"
            recursive = bool(body.get("Recursive"))
            with self._lock:
                names = sorted(n for n in self._parameters
                               if n.startswith(prefix) and (recursive or "/" not in n[len(prefix):]))
                start = 0
                if body.get("NextToken"):
                    try:
                        start = int(base64.b64decode(body["NextToken"]).decode())
                    except ValueError:
                        raise _ApiError(400, "ValidationException", "The specified token is invalid") from None
                end = start + min(max_results, self.page_size)
                page = [self._parameter_json(n, self._parameters[n], bool(body.get("WithDecryption")))
                        for n in names[start:end]]
            answer = {"Parameters": page}
            if end < len(names):
                answer["NextToken"] = base64.b64encode(str(end).encode()).decode()
            return answer
        raise _ApiError(400, "InvalidAction", f"Unknown operation AmazonSSM.{operation}")


def _require(params, *names):
    for name in names:
        if not params.get(name):
            raise _ApiError(400, "ValidationError", f"1 validation error detected: Value null at '{name}' "
                            "failed to satisfy constraint: Member must not be null")


def _asg_error_xml(code, message):
    kind = "Receiver" if code == "InternalFailure" else "Sender"
    return (f'<ErrorResponse xmlns="{_ASG_XMLNS}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")


class _Handler(http.server.BaseHTTPRequestHandler):
    owner = None  # the FakeAws, set by start()
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read calls() instead
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, content_type, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        self._body()
        self._route("PUT")

    def do_GET(self):
        self._route("GET")

    def _route(self, method):
        path = urllib.parse.urlsplit(self.path).path
        if not path.startswith("/imds/"):
            self._send(404, "text/plain", "not found\n")
            return
        instance_id, _, rest = path[len("/imds/"):].partition("/")
        status, ctype, body = self.owner._imds(method, instance_id, "/" + rest, self.headers)
        self._send(status, ctype, body)

    def do_POST(self):
        body = self._body()
        target = self.headers.get("X-Amz-Target")
        if target:
            self._ssm(target, body)
        else:
            self._query(body)

    def _signed(self):
        return (self.headers.get("Authorization") or "").startswith("AWS4-HMAC-SHA256 Credential=")

    def _query(self, body):
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        action = params.pop("Action", "")
        version = params.pop("Version", "")
        owner = self.owner
        try:
            if not self._signed():
                raise _ApiError(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
            if version != _ASG_VERSION:
                raise _ApiError(400, "InvalidAction", f"Version must be {_ASG_VERSION}, got '{version}'")
            injected = owner._take_failure(action)
            if injected:
                raise _ApiError(injected, "InternalFailure" if injected >= 500 else "Throttling",
                                "injected failure")
            result = owner._autoscaling(action, params)
        except _ApiError as e:
            owner._record(action, params, e.status)
            self._send(e.status, "text/xml", _asg_error_xml(e.code, e.message))
            return
        owner._record(action, params, 200)
        inner = "" if result is None else f"<{action}Result>{result}</{action}Result>"
        xml = (f'<{action}Response xmlns="{_ASG_XMLNS}">{inner}<ResponseMetadata><RequestId>{uuid.uuid4()}'
               f"</RequestId></ResponseMetadata></{action}Response>")
        self._send(200, "text/xml", xml)

    def _ssm(self, target, raw):
        service, _, operation = target.partition(".")
        owner = self.owner
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        try:
            if not self._signed():
                raise _ApiError(400, "MissingAuthenticationTokenException", "Missing Authentication Token")
            if service != "AmazonSSM":
                raise _ApiError(400, "UnknownOperationException", f"unknown target {target}")
            injected = owner._take_failure(operation)
            if injected:
                raise _ApiError(injected, "InternalServerError" if injected >= 500 else "ThrottlingException",
                                "injected failure")
            answer = owner._ssm(operation, body)
        except _ApiError as e:
            owner._record(operation, body, e.status)
            self._send(e.status, "application/x-amz-json-1.1", json.dumps({"__type": e.code, "message": e.message}))
            return
        owner._record(operation, body, 200)
        self._send(200, "application/x-amz-json-1.1", json.dumps(answer))
