# `make train-injection`: retrains the learned prompt-injection detector from the generated corpus
# (contrib/injection, fixed seeds) and rewrites the shipped weights and their figures. Not part of
# TEST_DEPS: the tests check the shipped weights, and scikit-learn is needed only here.
INJECTION_MODEL := stoad/guardrails/injection_model.bin

.PHONY: train-injection
train-injection: venv $(VENV)/.installed-train
	$(BIN)/python contrib/injection/train.py --out $(INJECTION_MODEL) --metrics contrib/injection/metrics.json

$(VENV)/.installed-train: setup.cfg
	$(BIN)/pip install --quiet -e '.[train]' --config-settings editable_mode=compat
	touch $@
