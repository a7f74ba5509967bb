"""Makes reference.json: all-MiniLM-L6-v2 vectors of the sentences in
sentences.json, computed by the reference library, sentence-transformers.

Run once, in a throwaway venv outside the repository (see REFERENCE.md):
    python make_reference.py MODEL_DIR sentences.json reference.json
MODEL_DIR is the folder bootstrap unpacks ($TRIAGE_CACHE/models/all-MiniLM-L6-v2).

For each sentence it records:
  - "truncate": SentenceTransformer.encode(text, normalize_embeddings=True),
    which keeps the first 254 word-pieces of a longer text;
  - "head_tail": the recipe of encoder.h for texts of more than 254 pieces:
    the first and the last 254 pieces, each as [CLS] .. [SEP] through the
    same model's transformer (model[0].auto_model), each mean-pooled and
    normalised, then the normalised mean of the two. For shorter texts it
    equals "truncate".
  - "ids": the token ids (without [CLS] / [SEP]) the model's tokenizer gives.
"""
import json
import sys

import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer

model_dir, sentences_path, out_path = sys.argv[1:4]
model = SentenceTransformer(model_dir, device="cpu")
model.eval()
tok = model.tokenizer
bert = model[0].auto_model
texts = json.load(open(sentences_path, encoding="utf-8"))
WINDOW = 254


def pooled(ids):
    x = torch.tensor([[tok.cls_token_id] + ids + [tok.sep_token_id]])
    with torch.no_grad():
        h = bert(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state[0]
    return torch.nn.functional.normalize(h.mean(0), dim=0)


records = []
for text in texts:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    trunc = model.encode(text, normalize_embeddings=True, convert_to_tensor=True)
    if len(ids) > WINDOW:
        mean = (pooled(ids[:WINDOW]) + pooled(ids[-WINDOW:])) / 2
        head_tail = torch.nn.functional.normalize(mean, dim=0)
    else:
        head_tail = trunc
    records.append({
        "text": text,
        "n_pieces": len(ids),
        "ids": ids,
        "truncate": [float("%.7g" % v) for v in trunc.tolist()],
        "head_tail": [float("%.7g" % v) for v in head_tail.tolist()],
    })

json.dump({
    "model": "all-MiniLM-L6-v2",
    "max_seq_length": model.max_seq_length,
    "versions": {
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    },
    "sentences": records,
}, open(out_path, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
