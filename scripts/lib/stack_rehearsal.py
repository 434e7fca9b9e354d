"""Deploy rehearsal, part 1: the stack as `sam deploy` would create it, on the local AWS API.

Run with the project venv's Python (it imports the pinned SAM CLI and SAM translator) while
AWS_ENDPOINT_URL points at the local AWS API server. For each config env named on the command
line it:

1. reads that env's `parameter_overrides` from samconfig.toml with the SAM CLI's own reader
   and parameter parser (so an override the CLI refuses, such as `Key=`, fails here too);
2. creates the SAM CLI's managed artifacts stack (`resolve_s3 = true`) from the CLI's own
   template, the same way as the service's stack (steps 4 and 5);
3. runs `sam package` (the CLI itself) on a copy of template.yaml whose only change is the code
   location: a stand-in directory instead of the workspace, since `sam build` output is not made
   here (the functions' binaries run locally in part 2, not inside the local Lambda service);
4. translates the packaged template with the SAM translator, as CloudFormation's
   `AWS::Serverless-2016-10-31` transform does at deploy time;
5. creates the stack with CreateStack and the overrides as Parameters, and waits for
   CREATE_COMPLETE;
6. writes what part 2 (crates/bench/tests/rehearsal.rs) needs: the stack's outputs and
   resources, each function's configuration as the local Lambda API returns it, and every HTTP
   route of the translated API with its function and whether it needs the JWT authorizer.

Nothing here creates a table, queue, topic or bucket of the service: they are the stack's.
Usage: python stack_rehearsal.py OUT.json ENV [ENV ...]
(REHEARSAL_TEMPLATE / REHEARSAL_SAMCONFIG: another template or samconfig.toml to rehearse)
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import boto3
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.bootstrap.bootstrap import SAM_CLI_STACK_NAME, _get_stack_template
from samcli.lib.config.samconfig import SamConfig
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Another template or samconfig.toml (a changed copy, to see the rehearsal fail on it).
TEMPLATE = pathlib.Path(os.environ.get("REHEARSAL_TEMPLATE", ROOT / "template.yaml"))
SAMCONFIG = pathlib.Path(os.environ.get("REHEARSAL_SAMCONFIG", ROOT / "samconfig.toml"))
REGION = os.environ.get("AWS_REGION", "ap-south-1")
# The translator finds the region for ARNs and pseudo parameters here.
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)


def fail(msg):
    print(f"rehearsal: {msg}", file=sys.stderr)
    sys.exit(1)


def overrides(env):
    """The env's parameter_overrides, parsed as `sam deploy --config-env ENV` parses them."""
    config = SamConfig(str(SAMCONFIG.parent), SAMCONFIG.name)
    section = config.get_all(["deploy"], "parameters", env)
    raw = section.get("parameter_overrides")
    if raw is None:
        fail(f"samconfig.toml has no [{env}.deploy.parameters] parameter_overrides")

    class Refused(Exception):
        pass

    parser = CfnParameterOverridesType()
    parser.fail = lambda message, *_: (_ for _ in ()).throw(Refused(message))
    try:
        return parser.convert(raw, None, None), section
    except Refused as e:
        fail(f"sam deploy --config-env {env} would refuse its own overrides: {e}")


class PolicyMap:
    """The managed-policy names the translator asks for, from the local IAM API."""

    def __init__(self):
        self.iam = boto3.client("iam", region_name=REGION)

    def load(self):
        out = {}
        for page in self.iam.get_paginator("list_policies").paginate(Scope="AWS"):
            for p in page["Policies"]:
                out[p["PolicyName"]] = p["Arn"]
        return out


def package(bucket, prefix):
    """`sam package` of the template, the code a stand-in directory."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="oms-rehearsal-"))
    code = work / "code"
    code.mkdir()
    (code / "bootstrap").write_text(
        "#!/bin/sh\n# stand-in: the rehearsal runs the real binaries locally\nexit 1\n"
    )
    text = TEMPLATE.read_text()
    marker = "    CodeUri: .\n"
    if text.count(marker) != 1:
        fail("template.yaml: expected one `CodeUri: .` under Globals.Function")
    copy = work / "template.yaml"
    copy.write_text(text.replace(marker, f"    CodeUri: {code}\n"))
    packaged = work / "packaged.yaml"
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    run = subprocess.run(
        [
            str(pathlib.Path(sys.executable).with_name("sam")),
            "package",
            "--template-file", str(copy),
            "--s3-bucket", bucket,
            "--s3-prefix", prefix,
            "--output-template-file", str(packaged),
            "--region", REGION,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        fail(f"sam package failed:\n{run.stdout}\n{run.stderr}")
    return yaml_parse(packaged.read_text())


def parameter_values(template, given):
    values = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
    values.update(given)
    values.update(
        {
            "AWS::Region": REGION,
            "AWS::AccountId": boto3.client("sts", region_name=REGION).get_caller_identity()["Account"],
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
    )
    return values


def routes(translated):
    """Every route of the HTTP API: method, path, function logical id, JWT authorizer or not."""
    apis = [r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    if len(apis) != 1:
        fail(f"expected one HTTP API in the translated template, found {len(apis)}")
    body = apis[0]["Properties"]["Body"]
    out = []
    for path, methods in body.get("paths", {}).items():
        for method, op in methods.items():
            uri = json.dumps(op.get("x-amazon-apigateway-integration", {}).get("uri"))
            fn = next(
                (
                    logical
                    for logical, r in translated["Resources"].items()
                    if r["Type"] == "AWS::Lambda::Function" and f"${{{logical}.Arn}}" in uri
                ),
                None,
            )
            security = op.get("security", body.get("security", []))
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "function": fn,
                    "authorizer": [name for s in security for name in s],
                }
            )
    return sorted(out, key=lambda r: (r["path"], r["method"]))


NAME_PROPERTIES = (
    "Name", "DashboardName", "FunctionName", "TableName", "QueueName", "TopicName",
    "BucketName", "LogGroupName", "AlarmName", "RoleName",
)


def fixed_names(translated):
    """Resources the translated template names without the stack's name: a second stack (dev
    beside prod) in the same account and region would collide on them. The local server does
    not create every such type (the schedule), so this is checked on the template itself."""
    clashes = []
    for logical, r in translated["Resources"].items():
        for prop in NAME_PROPERTIES:
            value = r.get("Properties", {}).get(prop)
            text = json.dumps(value)
            # A reference to another resource is that resource's (generated) name.
            refers = '"Ref"' in text or "Fn::GetAtt" in text
            if value is not None and "AWS::StackName" not in text and not refers:
                clashes.append(f"{logical}.{prop} = {json.dumps(value)}")
    return clashes


def deploy(stack, template, given, capabilities, tags=()):
    """Translate (the `AWS::Serverless-2016-10-31` transform) and CreateStack; wait for it."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    try:
        translated = transform(template, parameter_values(template, given), PolicyMap())
    except InvalidDocumentException as e:
        fail(f"the SAM transform refuses the template of {stack}: {[str(c) for c in e.causes]}")
    clashes = fixed_names(translated)
    if clashes and stack != SAM_CLI_STACK_NAME:
        fail(f"{stack}: names that do not carry the stack's name collide across stacks: {clashes}")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
        Capabilities=capabilities,
        Tags=list(tags),
    )
    status = ""
    for _ in range(1200):
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        reasons = [e.get("ResourceStatusReason") for e in events if e.get("ResourceStatusReason")]
        fail(f"stack {stack}: {status} {reasons[:5]}")
    return translated, status


def artifacts_bucket():
    """The SAM CLI's managed bucket (`resolve_s3 = true`): its stack, created once."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    try:
        cfn.describe_stacks(StackName=SAM_CLI_STACK_NAME)
    except cfn.exceptions.ClientError:
        deploy(
            SAM_CLI_STACK_NAME,
            json.loads(_get_stack_template()),
            {},
            [],
            [{"Key": "ManagedStackSource", "Value": "AwsSamCli"}],
        )
    resources = cfn.list_stack_resources(StackName=SAM_CLI_STACK_NAME)["StackResourceSummaries"]
    return next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "SamCliSourceBucket")


def create(env):
    given, config = overrides(env)
    cfn = boto3.client("cloudformation", region_name=REGION)
    packaged = package(artifacts_bucket(), config.get("s3_prefix", env))
    # get_all merges [ENV.global.parameters] into the command's, as the CLI does.
    stack = config.get("stack_name") or fail(f"samconfig.toml names no stack for {env}")
    capabilities = config.get("capabilities", "CAPABILITY_IAM")
    capabilities = capabilities.split() if isinstance(capabilities, str) else list(capabilities)
    translated, status = deploy(stack, packaged, given, capabilities)
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    resources = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    created = {r["LogicalResourceId"] for r in resources}
    not_created = sorted(
        {f'{r["Type"]} ({logical})' for logical, r in translated["Resources"].items() if logical not in created}
    )
    lam = boto3.client("lambda", region_name=REGION)
    functions = {}
    for r in resources:
        if r["ResourceType"] == "AWS::Lambda::Function":
            cfg = lam.get_function_configuration(FunctionName=r["PhysicalResourceId"])
            functions[r["LogicalResourceId"]] = {
                "name": cfg["FunctionName"],
                "timeout": cfg.get("Timeout"),
                "memory": cfg.get("MemorySize"),
                "env": cfg.get("Environment", {}).get("Variables", {}),
                # The cargo binary `sam build` would put in this function (rust-cargolambda).
                "binary": packaged["Resources"][r["LogicalResourceId"]]["Metadata"]["BuildProperties"]["Binary"],
            }
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    api_routes = routes(translated)
    print(
        f"rehearsal: stack {stack} ({env}) {status}: {len(resources)} resources, "
        f"{len(functions)} functions, {len(api_routes)} routes"
    )
    if not_created:
        print(f"rehearsal: the local AWS API server does not create: {', '.join(not_created)}")
    return {
        "env": env,
        "stack": stack,
        "status": status,
        "parameters": given,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        "resources": {
            r["LogicalResourceId"]: {"type": r["ResourceType"], "id": r["PhysicalResourceId"]}
            for r in resources
        },
        "not_created": not_created,
        "functions": functions,
        "event_sources": [
            {"function": m.get("FunctionArn"), "source": m.get("EventSourceArn")} for m in mappings
        ],
        "routes": api_routes,
    }


def main():
    if len(sys.argv) < 3:
        fail("usage: stack_rehearsal.py OUT.json ENV [ENV ...]")
    if not os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127."):
        fail("AWS_ENDPOINT_URL must point at the local AWS API server on loopback")
    facts = {env: create(env) for env in sys.argv[2:]}
    pathlib.Path(sys.argv[1]).write_text(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
