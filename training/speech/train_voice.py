#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trains the Sidewinder voice (voice.py) on the corpus of prepare_corpus.py.

  pack:   python3 training/speech/train_voice.py pack CORPUS_DIR corpus.npz
          (int16 audio, phoneme ids and the vocabulary in one file: small enough
          to carry to a GPU machine)
  train:  python3 training/speech/train_voice.py train corpus.npz -o OUT_DIR
          [--minutes 8] [--device cuda] [--batch 16]
          writes OUT_DIR/voice.safetensors, OUT_DIR/log.json and a few test
          sentences OUT_DIR/samples/*.wav (synthesised from text, with the
          predicted durations and f0: what the C++ engine will do).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import voice as V  # noqa: E402
from sidewinder_train.audio_io import read_wav, write_wav  # noqa: E402

MAX_SECONDS = 12.0


def pack(corpus_dirs, out, features_only=False):
    """One .npz from one or more corpus folders (prepare_corpus.py,
    prepare_festival_corpus.py) with one phoneme map over all of them, so
    that a voice pretrained on one can be fine-tuned on another. Each
    utterance keeps the name of its corpus folder (train --only).
    features_only: store the training features (log-mel quantised to 8 bits
    over the corpus's range, f0 as float16) instead of the audio: about a
    quarter of the size, for corpora too big to carry as audio."""
    items = []
    for ci, d in enumerate(corpus_dirs):
        for l in open(os.path.join(d, "metadata.jsonl"), encoding="utf-8"):
            it = json.loads(l)
            it["corpus"], it["dir"] = ci, d
            items.append(it)
    vocab = V.build_vocab(items)
    audio, offsets, ids, id_offsets, splits, names = [], [0], [], [0], [], []
    for it in items:
        x, rate = read_wav(os.path.join(it["dir"], "wav", it["id"] + ".wav"))
        assert rate == V.RATE
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        audio.append(np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16))
        offsets.append(offsets[-1] + len(x))
        t = V.tokens(it["clauses"], vocab)
        ids.extend(t)
        id_offsets.append(id_offsets[-1] + len(t))
        splits.append(1 if it["split"] == "test" else 0)
        names.append(it["id"])
    common = dict(ids=np.array(ids, np.int32), id_offsets=np.array(id_offsets), test=np.array(splits, np.int8),
                  names=np.array(names), vocab=json.dumps(vocab, ensure_ascii=False),
                  texts=np.array([it["text"] for it in items]),
                  corpus=np.array([it["corpus"] for it in items], np.int8),
                  corpus_names=np.array([os.path.basename(os.path.normpath(d)) for d in corpus_dirs]))
    if features_only:
        utts = [{"x": a.astype(np.float32) / 32768.0} for a in audio]
        features(utts)
        mel = np.concatenate([u["mel"] for u in utts])
        lo, hi = float(mel.min()), float(mel.max())
        q = np.clip(np.round((mel - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
        frames = np.cumsum([0] + [len(u["mel"]) for u in utts])
        np.savez_compressed(out, mel_q=q, mel_range=np.array([lo, hi]), frame_offsets=frames,
                            f0=np.concatenate([u["f0"] for u in utts]).astype(np.float16), **common)
    else:
        np.savez_compressed(out, audio=np.concatenate(audio), offsets=np.array(offsets), **common)
    print(f"packed {len(items)} prompts, {offsets[-1] / V.RATE / 60:.1f} min, {len(vocab)} symbols -> {out}")


def load_packed(path, only=None):
    """(utterances, phoneme map); only: keep the utterances of these corpus names."""
    z = np.load(path, allow_pickle=False)
    vocab = json.loads(str(z["vocab"]))
    cnames = [str(c) for c in z["corpus_names"]] if "corpus_names" in z.files else ["corpus"]
    corpus = z["corpus"] if "corpus" in z.files else np.zeros(len(z["names"]), np.int8)
    if only:
        unknown = set(only) - set(cnames)
        if unknown:
            sys.exit(f"{path}: no corpus named {sorted(unknown)} (it has {cnames})")
    feats = "mel_q" in z.files
    if feats:
        lo, hi = (float(v) for v in z["mel_range"])
        mel_q, f0, fo = z["mel_q"], z["f0"], z["frame_offsets"]
    else:
        audio, offsets = z["audio"], z["offsets"]
    utts = []
    for i in range(len(z["names"])):
        if only and cnames[corpus[i]] not in only:
            continue
        ids = z["ids"][z["id_offsets"][i]:z["id_offsets"][i + 1]].astype(np.int64)
        u = {"name": str(z["names"][i]), "text": str(z["texts"][i]), "ids": ids, "test": bool(z["test"][i]),
             "corpus": cnames[corpus[i]]}
        if feats:
            u["mel"] = (mel_q[fo[i]:fo[i + 1]].astype(np.float32) / 255.0 * (hi - lo) + lo).astype(np.float32)
            u["f0"] = f0[fo[i]:fo[i + 1]].astype(np.float64)
            u["x"] = np.zeros(0, np.float32)  # no audio carried
        else:
            u["x"] = audio[offsets[i]:offsets[i + 1]].astype(np.float32) / 32768.0
        utts.append(u)
    return utts, vocab


def n_samples(u):
    """Length in samples (from the features when the audio was not packed)."""
    return len(u["x"]) if len(u["x"]) else len(u["mel"]) * V.HOP


def _yin(x):
    return V.yin_f0(x.astype(np.float64))


def features(utts, workers=None):
    """Adds log-mel frames and YIN f0 to every utterance (f0 in a process pool: it is numpy)."""
    import multiprocessing as mp
    fb = torch.from_numpy(V.mel_filterbank()).float()
    utts = [u for u in utts if "mel" not in u]  # packed with features: nothing to do
    for u in utts:
        T = len(u["x"]) // V.HOP
        u["x"] = u["x"][: T * V.HOP]
        u["mel"] = V.log_mel(torch.from_numpy(u["x"]).unsqueeze(0), fb)[0].numpy()
    workers = workers or min(16, os.cpu_count() or 1)
    if workers > 1 and utts:
        with mp.get_context("fork").Pool(workers) as pool:
            f0s = pool.map(_yin, [u["x"] for u in utts], chunksize=4)
    else:
        f0s = [_yin(u["x"]) for u in utts]
    for u, f0 in zip(utts, f0s):
        u["f0"] = f0[: len(u["mel"])]
    return fb


def batches(utts, batch, rng):
    order = sorted(range(len(utts)), key=lambda i: n_samples(utts[i]))
    groups = [order[i:i + batch] for i in range(0, len(order), batch)]
    rng.shuffle(groups)
    return groups


def collate(utts, idx, device):
    us = [utts[i] for i in idx]
    N = max(len(u["ids"]) for u in us)
    T = max(len(u["mel"]) for u in us)
    ids = torch.zeros(len(us), N, dtype=torch.long)
    nmask = torch.zeros(len(us), N)
    mel = torch.zeros(len(us), T, V.N_MELS)
    f0 = torch.zeros(len(us), T)
    x = torch.zeros(len(us), T * V.HOP)
    tlen = torch.zeros(len(us), dtype=torch.long)
    spk = torch.tensor([u.get("spk", 0) for u in us], dtype=torch.long)
    for b, u in enumerate(us):
        n, t = len(u["ids"]), len(u["mel"])
        ids[b, :n] = torch.from_numpy(u["ids"])
        nmask[b, :n] = 1
        mel[b, :t] = torch.from_numpy(u["mel"])
        f0[b, :t] = torch.from_numpy(u["f0"]).float()
        x[b, : min(len(u["x"]), t * V.HOP)] = torch.from_numpy(u["x"][: t * V.HOP])
        tlen[b] = t
    return [v.to(device) for v in (ids, nmask, mel, f0, x, tlen, spk)]


def step(model, batch):
    """Losses of one batch: prior (aligned log-mel MSE; trains the alignment), duration MSE,
    decoder log-mel L1, f0 L1 (log Hz, voiced frames) and voicing BCE against YIN."""
    ids, nmask, mel, f0, x, tlen, spk = batch
    B, T = mel.shape[:2]
    h = model.encode(ids, nmask, spk)                                     # (B, N, H)
    mu = model.prior(h)                                                # (B, N, 80)
    tmask = (torch.arange(T, device=mel.device).unsqueeze(0) < tlen.unsqueeze(1)).float()
    # log-likelihood of frame t under phoneme i (unit-variance Gaussian), (B, N, T)
    logp = -0.5 * (mel.pow(2).sum(-1).unsqueeze(1) - 2 * mu @ mel.transpose(1, 2) + mu.pow(2).sum(-1).unsqueeze(-1))
    logp = logp.masked_fill(nmask.unsqueeze(-1) == 0, -1e9)
    dur = V.monotonic_alignment(logp.detach(), nmask.sum(1).long(), tlen)  # (B, N) frames
    idx, _, _ = V._expand_index(dur)
    mu_t = torch.gather(mu, 1, idx[:, :T].unsqueeze(-1).expand(-1, -1, V.N_MELS))
    prior_loss = (((mel - mu_t) ** 2).mean(-1) * tmask).sum() / tmask.sum()
    logd = torch.log1p(dur.float())
    dur_loss = (((model.duration(h.detach()).squeeze(-1) - logd) ** 2) * nmask).sum() / nmask.sum()
    params = model.decode(model.decoder_input(h, mu, dur)[:, :T], spk)  # (B, T, 82)
    mel_hat, _, _ = model.frames(params, mu_t)
    mel_loss = ((mel_hat - mel).abs().mean(-1) * tmask).sum() / tmask.sum()
    voiced_t = (f0 > 0).float()
    logf0_t = torch.log(f0.clamp(min=V.F0_MIN))
    f0_loss = ((params[..., 0] - logf0_t).abs() * voiced_t * tmask).sum() / (voiced_t * tmask).sum().clamp(min=1)
    vuv_loss = (F.binary_cross_entropy_with_logits(params[..., 1], voiced_t, reduction="none") * tmask).sum() / tmask.sum()
    loss = prior_loss + dur_loss + 4.0 * mel_loss + f0_loss + 0.5 * vuv_loss
    return loss, {"prior": prior_loss.item(), "dur": dur_loss.item(), "mel": mel_loss.item(),
                  "f0": f0_loss.item(), "vuv": vuv_loss.item()}


@torch.no_grad()
def speak(model, ids, device, seed=0):
    """Inference as the engine does it: predicted durations, f0 and log-mel, then the synthesiser."""
    ids = torch.from_numpy(ids).unsqueeze(0).to(device)
    mask = torch.ones_like(ids, dtype=torch.float32)
    h = model.encode(ids, mask)
    mu = model.prior(h)
    dur = torch.clamp(torch.round(torch.expm1(model.duration(h).squeeze(-1))), min=1).long()
    params = model.decoder(model.decoder_input(h, mu, dur))
    idx, _, _ = V._expand_index(dur)
    mu_t = torch.gather(mu, 1, idx.unsqueeze(-1).expand(-1, -1, V.N_MELS))
    mel, f0, voiced = model.frames(params, mu_t)
    gen = torch.Generator(device=device).manual_seed(seed)
    noise = V.white_noise((1, params.shape[1] * V.HOP), device, gen)
    return V.synthesise_mel(mel, f0, voiced, noise, model.filters)[0].cpu().numpy()


def train(a):
    t_begin = time.time()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    utts, vocab = load_packed(a.corpus, a.only)
    utts = [u for u in utts if n_samples(u) <= MAX_SECONDS * V.RATE]
    t0 = time.time()
    features(utts)
    train_u = [u for u in utts if not u["test"]]
    test_u = [u for u in utts if u["test"]]
    print(f"{len(train_u)} train / {len(test_u)} test utterances; features in {time.time() - t0:.1f} s", flush=True)
    speakers = sorted({u["corpus"] for u in utts}) if not a.pool_speakers else ["pooled"]
    for u in utts:
        u["spk"] = speakers.index(u["corpus"]) if len(speakers) > 1 else 0
    if len(speakers) > 1 and a.speaker not in speakers:
        sys.exit(f"--speaker {a.speaker}: not one of the corpora {speakers}")
    si = speakers.index(a.speaker) if len(speakers) > 1 else 0
    print(f"speakers {speakers}; the voice speaks as {speakers[si]}", flush=True)
    device = torch.device(a.device)
    model = V.Voice(len(vocab), n_speakers=len(speakers))
    if a.init:
        init, init_vocab = V.load_voice(a.init)
        if init_vocab != vocab:
            sys.exit(f"{a.init}: its phoneme map differs from the corpus's")
        model.load_state_dict(init.state_dict(), strict=len(speakers) == 1)
        print(f"initialised from {a.init}", flush=True)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.8, 0.99), weight_decay=0.0)
    budget = a.minutes * 60
    if a.deadline:  # the whole run (features, training, evaluation, export) ends by then
        budget = min(budget, a.deadline * 60 - (time.time() - t_begin) - a.reserve)
    if a.checkpoint:
        os.makedirs(os.path.dirname(os.path.abspath(a.checkpoint)), exist_ok=True)
    start = time.time()
    last_ckpt = start
    log, step_n, epoch = [], 0, 0
    while time.time() - start < budget and (a.max_steps == 0 or step_n < a.max_steps):
        for g in batches(train_u, a.batch, rng):
            frac = (time.time() - start) / budget
            for pg in opt.param_groups:
                pg["lr"] = a.lr * 0.5 * (1 + np.cos(np.pi * min(1.0, frac)))
            model.train()
            loss, parts = step(model, collate(train_u, g, device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step_n += 1
            if step_n % 20 == 0:
                parts.update(step=step_n, seconds=round(time.time() - start, 1), loss=loss.item())
                log.append(parts)
                print(json.dumps(parts), flush=True)
            if a.checkpoint and time.time() - last_ckpt > a.checkpoint_every:
                V.export(model.single_speaker(si), vocab, a.checkpoint.format(step=step_n), {"name": "checkpoint", "license": "CC-BY-SA-3.0"},
                         {"steps": step_n})
                last_ckpt = time.time()
            if time.time() - start > budget or (a.max_steps and step_n >= a.max_steps):
                break
        epoch += 1
    # held-out losses (teacher-forced alignment), then samples from text
    model.eval()
    full, model = model, model.single_speaker(si)
    os.makedirs(a.out, exist_ok=True)
    if len(speakers) > 1:  # every speaker's vectors, for `export` (another speaker, or a blend)
        torch.save({"state": {k: v.cpu() for k, v in full.state_dict().items()}, "vocab": vocab,
                    "speakers": speakers, "config": {"n_symbols": len(vocab)}},
                   os.path.join(a.out, "speakers.pt"))
    with torch.no_grad():
        tl = [step(full, collate(test_u, list(range(i, min(i + a.batch, len(test_u)))), device))[1]
              for i in range(0, len(test_u), a.batch)]
    test_loss = {k: float(np.mean([t[k] for t in tl])) for k in tl[0]} if tl else {}
    os.makedirs(os.path.join(a.out, "samples"), exist_ok=True)
    for u in test_u[: a.samples]:
        y = speak(model, u["ids"], device)
        write_wav(os.path.join(a.out, "samples", u["name"] + ".wav"), np.clip(y, -1, 1).astype(np.float32), V.RATE)
        if len(u["x"]):
            write_wav(os.path.join(a.out, "samples", u["name"] + ".ref.wav"), u["x"], V.RATE)
    ratio = []
    for u in test_u:
        ids = torch.from_numpy(u["ids"]).unsqueeze(0).to(device)
        with torch.no_grad():
            h = model.encode(ids, torch.ones_like(ids, dtype=torch.float32))
            d = torch.clamp(torch.round(torch.expm1(model.duration(h).squeeze(-1))), min=1)
        ratio.append(float(d.sum()) / len(u["mel"]))
    if ratio:
        test_loss["length_ratio_median"] = float(np.median(ratio))
    settings = {"corpora": sorted({u["corpus"] for u in utts}), "speakers": speakers, "speaker": speakers[si],
                "steps": step_n, "epochs": epoch, "minutes": a.minutes, "batch": a.batch, "lr": a.lr,
                "init": os.path.basename(a.init) if a.init else None,
                "device": str(device), "torch": torch.__version__, "test_loss": test_loss}
    V.export(model, vocab, os.path.join(a.out, "voice.safetensors"),
             {"name": a.name, "license": "CC-BY-SA-3.0", "language": "en-US",
              "description": a.description, "credits": a.credits,
              "espeak_voice": "en-us"}, settings)
    with open(os.path.join(a.out, "log.json"), "w") as f:
        json.dump({"log": log, "settings": settings}, f, indent=1)
    print("done", json.dumps(settings), flush=True)


def training_settings(full_path):
    """The run's settings (log.json beside speakers.pt), when there."""
    log = os.path.join(os.path.dirname(os.path.abspath(full_path)), "log.json")
    if not os.path.isfile(log):
        return {}
    with open(log) as f:
        return json.load(f)["settings"]


def export_speaker(a):
    full = torch.load(a.full, map_location="cpu")
    speakers = full["speakers"]
    model = V.Voice(len(full["vocab"]), n_speakers=len(speakers))
    model.load_state_dict(full["state"])
    weights = {}
    for part in a.speaker.split(","):
        name, _, w = part.partition("=")
        if name not in speakers:
            sys.exit(f"--speaker: {name} is not one of {speakers}")
        weights[name] = float(w) if w else 1.0
    if abs(sum(weights.values()) - 1) > 1e-6:
        sys.exit("--speaker: the weights must sum to 1")
    with torch.no_grad():  # the blend as an extra speaker row, then folded like any speaker
        emb = sum(w * model.speaker_emb.weight[speakers.index(n)] for n, w in weights.items())
        dec = sum(w * model.speaker_dec.weight[speakers.index(n)] for n, w in weights.items())
        model.speaker_emb.weight[0] = emb
        model.speaker_dec.weight[0] = dec
    one = model.single_speaker(0)
    V.export(one, full["vocab"], a.out,
             {"name": a.name, "license": "CC-BY-SA-3.0", "language": "en-US", "description": a.description,
              "credits": a.credits, "espeak_voice": "en-us"},
             dict(training_settings(a.full), speaker=a.speaker, exported_from=os.path.basename(a.full)))
    print(f"{a.out}: speaking as {a.speaker}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("corpus_dirs", nargs="+", help="corpus folders, then the output .npz")
    p.add_argument("--features", action="store_true",
                   help="store 8-bit log-mel and f0 instead of the audio (a quarter of the size)")
    t = sub.add_parser("train")
    t.add_argument("corpus")
    t.add_argument("-o", "--out", required=True)
    t.add_argument("--minutes", type=float, default=8.0)
    t.add_argument("--max-steps", type=int, default=0)
    t.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--samples", type=int, default=6)
    t.add_argument("--deadline", type=float, default=0.0,
                   help="minutes from start by which everything must be done (training is shortened to fit)")
    t.add_argument("--reserve", type=float, default=45.0, help="seconds kept for evaluation and export")
    t.add_argument("--checkpoint", help="export the voice here every 60 s while training ({step} in the name: keep each)")
    t.add_argument("--checkpoint-every", type=float, default=60.0, help="seconds between checkpoints (60)")
    t.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: its default)")
    t.add_argument("--init", help="continue from this voice file (same phoneme map)")
    t.add_argument("--only", nargs="*", help="train on these corpora of the pack only (their folder names)")
    t.add_argument("--name", default="allison")
    t.add_argument("--speaker", default="allison", help="with several corpora: the one the voice speaks as")
    t.add_argument("--pool-speakers", action="store_true",
                   help="several corpora as one speaker (no speaker vectors)")
    t.add_argument("--description", default="US English, female: Allison Smith (Asterisk prompts, Debian "
                   "asterisk-core-sounds-en), SSM v2")
    t.add_argument("--credits", default="Voice data: Allison Smith / Digium, asterisksounds.org, CC-BY-SA-3.0")
    e = sub.add_parser("export", help="a one-speaker voice file from a multi-speaker run (speakers.pt)")
    e.add_argument("full", help="speakers.pt written by train")
    e.add_argument("-o", "--out", required=True)
    e.add_argument("--speaker", required=True,
                   help="a speaker name, or a blend NAME=W,NAME=W (weights of the speaker vectors, summing to 1)")
    e.add_argument("--name", required=True)
    e.add_argument("--description", required=True)
    e.add_argument("--credits", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "export":
        export_speaker(a)
        return
    if a.cmd == "pack":
        if len(a.corpus_dirs) < 2:
            ap.error("pack: give one or more corpus folders and the output file")
        pack(a.corpus_dirs[:-1], a.corpus_dirs[-1], a.features)
    else:
        train(a)


if __name__ == "__main__":
    main()
