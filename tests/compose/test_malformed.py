"""Every malformed compose file gives one exact error, located at its file and line.

malformed/parts/ holds the files that some of them include.
"""
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest

from launchdeck.compose import load
from launchdeck.errors import ComposeError

HERE = Path(__file__).parent / "malformed"

EXPECTED = [
    ('build-unknown-key', "build-unknown-key.yaml:5: services.web.build.dockerfle: unknown key 'dockerfle'; did you mean 'dockerfile'?"),
    ('command-mapping', 'command-mapping.yaml:4: services.web.command: must be a list, empty or a string, not a mapping'),
    ('command-unbalanced-quote', 'command-unbalanced-quote.yaml:4: services.web.command: cannot split \'echo "unfinished\' into arguments: No closing quotation'),
    ('depends-on-bad-condition', "depends-on-bad-condition.yaml:6: services.web.depends_on.db.condition: 'service_ready' is not one of 'service_started', 'service_healthy', 'service_completed_successfully'"),
    ('depends-on-profile', "depends-on-profile.yaml:4: services.web.depends_on: service 'web' depends on 'db', which is only in profile data; enable it with --profile"),
    ('depends-on-undefined', "depends-on-undefined.yaml:4: services.web.depends_on: service 'web' depends on undefined service 'db'; define it or remove it from depends_on"),
    ('deploy-bad-cpus', "deploy-bad-cpus.yaml:7: services.web.deploy.resources.limits.cpus: invalid cpus 'half': use a number like 0.5"),
    ('deploy-bad-memory', "deploy-bad-memory.yaml:7: services.web.deploy.resources.limits.memory: invalid size 'lots': use a value like 512m or 1g"),
    ('deploy-replicas-string', "deploy-replicas-string.yaml:5: services.web.deploy.replicas: must be an integer, not 'two'"),
    ('duplicate-key', "duplicate-key.yaml:4: services.web: key 'image' is defined twice (first at line 3)"),
    ('duplicate-service', "duplicate-service.yaml:4: services: key 'web' is defined twice (first at line 2)"),
    ('empty-file', 'empty-file.yaml: the file is empty\nA compose file needs at least a services: section.'),
    ('env-file-missing', 'env-file-missing.yaml:4: services.web.env_file[0]: env file missing.env not found\nCreate it, or mark the entry required: false.'),
    ('environment-nested', 'environment-nested.yaml:5: services.web.environment.FOO: must be a string, a number, true or false or empty, not a mapping'),
    ('environment-scalar', 'environment-scalar.yaml:4: services.web.environment: must be a list or a mapping, not a string'),
    ('healthcheck-bad-duration', "healthcheck-bad-duration.yaml:6: services.web.healthcheck.interval: invalid duration '10 seconds': use a value like 30s, 1m30s or 500ms"),
    ('healthcheck-retries-string', "healthcheck-retries-string.yaml:6: services.web.healthcheck.retries: must be an integer, not 'many'"),
    ('healthcheck-unknown-key', "healthcheck-unknown-key.yaml:5: services.web.healthcheck.tets: unknown key 'tets'; did you mean 'test'?"),
    ('image-number', 'image-number.yaml:3: services.web.image: must be a string, not an integer'),
    ('include-missing-file', 'include-missing-file.yaml:2: include: other.yaml not found\nCheck the path; relative paths start at the project directory.'),
    ('interpolation-bad-name', "interpolation-bad-name.yaml:5: services.web.environment.A: invalid interpolation format '${1VAR}'; write a literal $ as $$"),
    ('interpolation-in-port', "interpolation-in-port.yaml:5: services.web.ports[0]: invalid port '${PORT}:80': use CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER, optionally with /tcp or /udp (PORT is not set: define it in .env or .env.<stack>)"),
    ('interpolation-required-bare', 'interpolation-required-bare.yaml:3: services.web.image: required variable TAG is missing a value'),
    ('interpolation-required', 'interpolation-required.yaml:3: services.web.image: required variable TAG is missing a value: set TAG in .env'),
    ('interpolation-unclosed', "interpolation-unclosed.yaml:3: services.web.image: invalid interpolation format '${TAG'; write a literal $ as $$"),
    ('invalid-project-name', "invalid-project-name.yaml:1: name: cannot make a project name from '-- !!'\nUse lowercase letters, digits, dashes and underscores, starting with a letter or digit."),
    ('networks-scalar', 'networks-scalar.yaml:4: services.web.networks: must be a mapping, not a string'),
    ('port-bad-mode', "port-bad-mode.yaml:6: services.web.ports[0].mode: 'public' is not one of 'ingress' or 'host'"),
    ('port-invalid', "port-invalid.yaml:6: services.web.ports[1]: invalid port 'http:80': use CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER, optionally with /tcp or /udp"),
    ('port-long-no-target', "port-long-no-target.yaml:5: services.web.ports[0]: missing required key 'target'"),
    ('port-range-mismatch', "port-range-mismatch.yaml:5: services.web.ports[0]: invalid port '8000-8002:80-81': the two ranges differ in length"),
    ('port-unknown-key', "port-unknown-key.yaml:6: services.web.ports[0].publish: unknown key 'publish'; did you mean 'published'?"),
    ('ports-not-list', 'ports-not-list.yaml:4: services.web.ports: must be a list, not a string'),
    ('profiles-string', 'profiles-string.yaml:4: services.web.profiles: must be a list, not a string'),
    ('restart-number', 'restart-number.yaml:4: services.web.restart: must be a string, not an integer'),
    ('service-scalar', 'service-scalar.yaml:2: services.web: must be a mapping, not a string'),
    ('services-list', 'services-list.yaml:1: services: must be a mapping, not a list'),
    ('several-problems', 'several-problems.yaml:4: services.web.ports: must be a list, not an integer\nseveral-problems.yaml:7: services.db.restart: must be a string, not a list'),
    ('top-level-list', 'top-level-list.yaml:1: the top level must be a mapping (services:, volumes:, ...)'),
    ('top-level-scalar', 'top-level-scalar.yaml:1: the top level must be a mapping (services:, volumes:, ...)'),
    ('unknown-service-key', "unknown-service-key.yaml:3: services.web.imagee: unknown key 'imagee'; did you mean 'image'?"),
    ('unknown-top-level', "unknown-top-level.yaml:4: service: unknown key 'service'; did you mean 'services'?"),
    ('volume-bad-short', "volume-bad-short.yaml:5: services.web.volumes[0]: invalid volume 'a:b:c:d': use SOURCE:TARGET[:ro]"),
    ('volume-long-no-target', "volume-long-no-target.yaml:5: services.web.volumes[0]: missing required key 'target'"),
    ('network-undefined', "network-undefined.yaml:4: services.web.networks: service 'web' refers to undefined network 'back'; declare it under top-level networks:"),
    ('volume-undefined', "volume-undefined.yaml:6: services.web.volumes[1]: service 'web' refers to undefined volume 'data'; declare it under top-level volumes:"),
    ('volumes-from-undefined', "volumes-from-undefined.yaml:4: services.web.volumes_from: service 'web' takes volumes from undefined service 'other'"),
    ('extends-unknown-service', "extends-unknown-service.yaml:3: services.web.extends: extends names service 'bsae', which the file does not define (services: web, base)"),
    ('extends-cycle', 'extends-cycle.yaml:4: services.a.extends: extends forms a cycle: a -> b -> a'),
    ('extends-missing-file', 'extends-missing-file.yaml:3: services.web.extends.file: extends names the file common.yaml, which does not exist'),
    ('yaml-syntax', "yaml-syntax.yaml:3: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence that starts on this line)"),
    ('yaml-tab', 'yaml-tab.yaml:2: invalid YAML: found character that cannot start any token'),
    ('yaml-unsupported-tag', 'yaml-unsupported-tag.yaml:3: services.web.image: unsupported YAML tag !!binary'),
    ('cpus-infinite', 'cpus-infinite.yaml:7: services.web.deploy.resources.limits.cpus: invalid cpus inf: use a number like 0.5'),
    ('duration-infinite', "duration-infinite.yaml:6: services.web.healthcheck.timeout: invalid duration '1e400s': use a value like 30s, 1m30s or 500ms"),
    ('duration-too-large', "duration-too-large.yaml:6: services.web.healthcheck.interval: duration '99999999999999999999h' is out of range: at most 2562047h (about 292 years)"),
    ('env-file-long-name', 'env-file-long-name.yaml:4: services.web.env_file[0]: cannot use env file eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee...eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.env: the path is too long'),
    ('env-file-nul', 'env-file-nul.yaml:4: services.web.env_file[0]: cannot use env file app\\0.env: the path contains a NUL character'),
    ('extends-file-long-name', "extends-file-long-name.yaml:3: services.web.extends.file: extends names the file 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.yaml', which cannot be used: the path is too long"),
    ('extends-file-nul', "extends-file-nul.yaml:3: services.web.extends.file: extends names the file 'base\\x00.yaml', which cannot be used: the path contains a NUL character"),
    ('include-conflict', 'include-conflict.yaml:4: services.web: services.web is defined here and, differently, in the included file parts/include-conflict.yaml (line 2)\nRename one of the two, or remove one definition.'),
    ('include-cycle', 'parts/include-cycle.yaml:2: include: include forms a cycle: include-cycle.yaml -> parts/include-cycle.yaml -> include-cycle.yaml'),
    ('include-env-file-missing', 'include-env-file-missing.yaml:2: include.env_file: missing.env not found\nCheck the path; relative paths start at the project directory.'),
    ('include-without-path', 'include-without-path.yaml:2: include: an include entry needs a path\nWrite `- path: other/compose.yaml`, or just the path.'),
    ('include-error-in-included', 'parts/broken.yaml:4: services.api.ports: must be a list, not an integer'),
    ('interpolation-too-deep', 'interpolation-too-deep.yaml:5: services.web.environment.A: interpolation nested more than 32 levels deep'),
    ('key-boolean', 'key-boolean.yaml:5: services.web.labels: key \'true\' is read as true or false, but keys must be strings; quote it ("true":)'),
    ('key-null', 'key-null.yaml:5: services.web.environment: key \'~\' is read as null, but keys must be strings; quote it ("~":)'),
    ('key-number', 'key-number.yaml:2: services: key \'1\' is read as a number, but keys must be strings; quote it ("1":)'),
    ('port-range-huge', "port-range-huge.yaml:5: services.web.ports[0]: invalid port '1-1000000000:1-1000000000': ports are numbers from 0 to 65535"),
    ('port-range-reversed', "port-range-reversed.yaml:5: services.web.ports[0]: invalid port '9000-8000': ports are numbers from 0 to 65535, and a range goes from low to high"),
    ('replicas-negative', 'replicas-negative.yaml:5: services.web.deploy.replicas: replicas must be a whole number from 0 to 2147483647, not -1'),
    ('replicas-too-large', 'replicas-too-large.yaml:5: services.web.deploy.replicas: replicas must be a whole number from 0 to 2147483647, not 99999999999999999999999'),
    ('size-too-large', "size-too-large.yaml:7: services.web.deploy.resources.limits.memory: size '99999999999999999999999p' is out of range: at most 8 EiB (9223372036854775807 bytes)"),
    ('tag-override-in-extension', 'tag-override-in-extension.yaml:2: x-common.labels: !override cannot be used inside an x- extension, which is kept as written'),
    ('tag-override-on-services', 'tag-override-on-services.yaml:1: services: !override cannot be used on services: reset or override each service instead'),
    ('tag-reset-in-list', "tag-reset-in-list.yaml:5: services.web.ports[0]: !reset cannot be used inside a list: they act on a key's whole value, so tag the list itself"),
    ('tag-reset-on-extends', 'tag-reset-on-extends.yaml:5: services.web.extends: !reset cannot be used on include or extends, which are read before files are merged'),
    ('tag-reset-on-key', 'tag-reset-on-key.yaml:4: services.web: !reset cannot tag a key; put it after the colon, on the value'),
    ('tag-reset-on-services', 'tag-reset-on-services.yaml:1: services: !reset cannot be used on services: reset or override each service instead'),
    ('yaml-alias-bomb', 'yaml-alias-bomb.yaml:1: x-f[0][3][3][7][0][5]: the document expands to more than 100,000 values once its aliases are followed\nUse anchors and aliases for small shared blocks, not nested in each other.'),
    ('yaml-merge-self', 'yaml-merge-self.yaml:3: x-a.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c.c...: YAML nested more than 100 levels deep (an alias inside its own anchor?)'),
    ('yaml-unterminated-flow', "yaml-unterminated-flow.yaml:4: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence that starts on this line)"),
    ('yaml-unterminated-quote', 'yaml-unterminated-quote.yaml:5: invalid YAML: found unexpected end of stream (while scanning a quoted scalar that starts on this line)'),
]


@pytest.mark.parametrize(("name", "message"), EXPECTED, ids=[name for name, _ in EXPECTED])
def test_malformed_file_gives_its_error(name: str, message: str) -> None:
    """Loading the file fails with exactly this message (and hint)."""
    with pytest.raises(ComposeError) as caught:
        load([f"{name}.yaml"], cwd=HERE, os_environ={})
    assert str(caught.value) == message


def test_every_malformed_file_has_an_expectation() -> None:
    """No file in malformed/ goes unchecked, and there are at least 80 of them."""
    files = {p.stem for p in HERE.glob("*.yaml")}
    assert files == {name for name, _ in EXPECTED}
    assert len(files) >= 80
