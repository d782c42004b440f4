# kafka_eks.cluster — everything built or downloaded goes under .cache/ (ignored).
SHELL := /bin/bash
REPO := $(abspath .)
VENV := $(REPO)/.cache/venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(REPO)/.cache/collections
PYTEST := $(VENV)/bin/python -m pytest
TESTBED := $(VENV)/bin/python tests/testbed/testbed.py
TESTBED_NAME ?= tb1
TESTBED_NODES ?= 3
TESTBED_INDEX ?= 0
RENDER_DIR ?= $(REPO)/rendered

.PHONY: setup test test-slow test-unit test-render lint sanity build test-e2e render \
        testbed-build testbed-up testbed-down demo bench bench-smoke clean

## setup: Python tools (pinned), kubernetes.core and community.crypto into .cache/
setup:
	@scripts/setup.sh

## test: everything CI runs (the README's test command)
test: setup
	@scripts/run-tests.sh

## test-slow: the end-to-end scenarios too slow for CI's budget (the migration to KRaft and back)
test-slow: testbed-build
	KAFKA_EKS_SLOW_SCENARIOS=1 $(PYTEST) -m testbed tests/testbed/test_podrunner.py -k test_kraft_migration_from_zookeeper -q
	KAFKA_EKS_SLOW_SCENARIOS=1 $(PYTEST) -m testbed tests/e2e/test_scenarios.py -k "$(or $(SCENARIO),migration)" -q

test-unit: setup
	$(PYTEST) tests/unit -q

test-render: setup
	$(PYTEST) tests/render -q

lint: setup
	ansible-lint
	yamllint -s .

sanity: setup
	@scripts/sanity.sh

build: setup
	@scripts/build-collection.sh

## render: write the manifests for the defaults (or -e @vars) into $(RENDER_DIR)
render: setup
	ansible-playbook playbooks/render.yml -e kafka_render_dir=$(RENDER_DIR) $(ARGS)

## testbed-*: the local Kubernetes of real parts (see tests/testbed/README.md)
testbed-build: setup
	tests/testbed/build.sh

testbed-up: testbed-build
	$(TESTBED) up --name $(TESTBED_NAME) --nodes $(TESTBED_NODES) --index $(TESTBED_INDEX) $(if $(TESTBED_ZONES),--zones $(TESTBED_ZONES))

testbed-down:
	$(TESTBED) down --name $(TESTBED_NAME)

test-e2e: testbed-build
	$(PYTEST) -m testbed tests/testbed tests/e2e -q

## demo: test bed up, site.yml against it, bootstrap servers, one message through Kafka
demo: testbed-up
	@scripts/demo.sh $(TESTBED_NAME)

bench: testbed-build
	bench/run.sh

bench-smoke: testbed-build
	bench/run.sh --smoke

clean:
	-$(TESTBED) down --all
	rm -rf .cache rendered
