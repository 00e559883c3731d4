# `make train-injection`: retrains the learned prompt-injection detector from the generated corpus
# (contrib/injection, fixed seeds) and rewrites the shipped weights and their figures. Not part of
# TEST_DEPS: the tests check the shipped weights, and scikit-learn is needed only here.
# `make train-injection-candidate` adds the benign look-alike carriers (lookalikes.py) and writes
# contrib/injection/candidate.bin, leaving the shipped weights alone: a candidate is scored on a
# blind split before it may replace them.
INJECTION_MODEL := stoad/guardrails/injection_model.bin

.PHONY: train-injection train-injection-candidate
train-injection: venv $(VENV)/.installed-train
	$(BIN)/python contrib/injection/train.py --without-lookalikes --out $(INJECTION_MODEL) \
		--metrics contrib/injection/metrics.json

train-injection-candidate: venv $(VENV)/.installed-train
	nice -n 10 $(BIN)/python contrib/injection/train.py --out contrib/injection/candidate.bin \
		--metrics contrib/injection/candidate-metrics.json

$(VENV)/.installed-train: setup.cfg
	$(BIN)/pip install --quiet -e '.[train]' --config-settings editable_mode=compat
	touch $@
