"""Prints, as one JSON array, the token ids (without [CLS] / [SEP]) that PyPI
`tokenizers` gives for each string of a JSON array, with a tokenizer.json.
test_wordpiece runs it in the venv bootstrap installs:
    $TRIAGE_CACHE/venv-tokenizers/bin/python tokenize_ids.py TOKENIZER_JSON CASES_JSON
"""
import json
import sys

from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1])
# tokenizer.json pads and truncates to 128; the encoder takes 256 and windows.
tok.no_padding()
tok.no_truncation()
cases = json.load(open(sys.argv[2], encoding="utf-8"))
print(json.dumps([tok.encode(c, add_special_tokens=False).ids for c in cases]))
