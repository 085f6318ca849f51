# The two commands a new user runs: `make serve` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
QA     := $(VENV)/bin/qa
TORCH  ?= torch==2.13.0
INDEX  ?= index
CORPUS ?= corpus
HOST   ?= 127.0.0.1
PORT   ?= 8000
EXTRAS ?= test
comma  := ,
# One stamp per set of extras: `make test EXTRAS=test,accurate` installs the extra into an existing venv.
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: install serve test index eval bench clean

install: $(STAMP)

# torch goes in first and pinned: an unpinned resolve would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade-strategy only-if-needed "$(TORCH)"
	$(PIP) install --quiet --upgrade-strategy only-if-needed "$(TORCH)" -e ".[$(EXTRAS)]"
	touch $@

$(INDEX)/CURRENT: | install
	$(QA) index --corpus $(CORPUS) --index $(INDEX)

index: install
	$(QA) index --corpus $(CORPUS) --index $(INDEX)

serve: install $(INDEX)/CURRENT
	$(QA) serve --index $(INDEX) --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

eval: install $(INDEX)/CURRENT
	$(QA) eval ../shared/eval/dev.jsonl --index $(INDEX)

bench: install $(INDEX)/CURRENT
	$(PY) scripts/bench.py --index $(INDEX)

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache .hypothesis
