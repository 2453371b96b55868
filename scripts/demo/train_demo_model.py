#!/usr/bin/env python3
"""Trains Quarrel's bundled demo model on the GPU machine (PyTorch, transformers, tokenizers).

A Llama-architecture causal LM (~16M parameters) with its own byte-level BPE vocabulary, both
trained on the King James Bible text made by prepare_corpus.sh. Writes a Hugging Face
checkpoint (config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
generation_config.json) and train_log.json to OUT_DIR; `quarrel convert` turns it into GGUF.

  python3 train_demo_model.py CORPUS.txt OUT_DIR [--steps 3000]
"""
import argparse, json, math, os, random, time

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

p = argparse.ArgumentParser()
p.add_argument("corpus"); p.add_argument("out")
p.add_argument("--steps", type=int, default=3000)
p.add_argument("--vocab", type=int, default=8192)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--lr", type=float, default=1.5e-3)
p.add_argument("--seed", type=int, default=1234)
args = p.parse_args()
torch.manual_seed(args.seed); random.seed(args.seed)
os.makedirs(args.out, exist_ok=True)
text = open(args.corpus, encoding="utf-8").read()

# ---- tokenizer: byte-level BPE (GPT-2 pre-tokenization), trained on the same text ----------
specials = ["<s>", "</s>", "<pad>"]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=args.vocab, special_tokens=specials, min_frequency=2,
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
bos, eos, pad = (tok.token_to_id(s) for s in specials)
tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)])
fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
fast.add_bos_token = True
fast.save_pretrained(args.out)

ids = torch.tensor(tok.encode(text, add_special_tokens=False).ids, dtype=torch.long)
n_val = len(ids) // 50
train_ids, val_ids = ids[:-n_val], ids[-n_val:]
print(f"corpus {len(text)} bytes -> {len(ids)} tokens (vocab {tok.get_vocab_size()}), val {n_val}", flush=True)

# ---- model --------------------------------------------------------------------------------
cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=384, intermediate_size=1024,
                  num_hidden_layers=8, num_attention_heads=6, num_key_value_heads=2,
                  max_position_embeddings=1024, rms_norm_eps=1e-5, rope_theta=10000.0,
                  tie_word_embeddings=True, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
model = LlamaForCausalLM(cfg).cuda()
n_params = sum(p.numel() for p in model.parameters())
print(f"parameters: {n_params}", flush=True)

def batch(src):
    # random windows, each starting with BOS as at inference time
    starts = torch.randint(0, len(src) - args.seq, (args.batch,))
    x = torch.stack([torch.cat([torch.tensor([bos]), src[s:s + args.seq - 1]]) for s in starts])
    return x.cuda(non_blocking=True)

opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
warmup = 100
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))

@torch.no_grad()
def val_loss():
    model.eval(); losses = []
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        starts = torch.randint(0, len(val_ids) - args.seq, (args.batch,), generator=g)
        x = torch.stack([torch.cat([torch.tensor([bos]), val_ids[s:s + args.seq - 1]]) for s in starts]).cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            losses.append(model(input_ids=x, labels=x).loss.item())
    model.train(); return sum(losses) / len(losses)

log = []; t0 = time.time()
model.train()
for step in range(args.steps):
    x = batch(train_ids)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(input_ids=x, labels=x).loss
    opt.zero_grad(set_to_none=True); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); sched.step()
    if step % 250 == 0 or step == args.steps - 1:
        v = val_loss()
        log.append({"step": step, "train_loss": loss.item(), "val_loss": v, "seconds": time.time() - t0})
        print(json.dumps(log[-1]), flush=True)

model = model.float().eval()
model.save_pretrained(args.out, safe_serialization=True)
GenerationConfig(bos_token_id=bos, eos_token_id=eos, pad_token_id=pad).save_pretrained(args.out)
prompt = "In the beginning God created"
enc = fast(prompt, return_tensors="pt").to("cuda")
out = model.generate(**enc, max_new_tokens=40, do_sample=False)
sample = fast.decode(out[0], skip_special_tokens=True)
print("greedy:", sample, flush=True)
json.dump({"parameters": n_params, "tokens": len(ids), "steps": args.steps, "batch": args.batch,
           "seq": args.seq, "lr": args.lr, "log": log, "greedy_sample": {"prompt": prompt, "text": sample},
           "device": torch.cuda.get_device_name(0)}, open(os.path.join(args.out, "train_log.json"), "w"), indent=1)
