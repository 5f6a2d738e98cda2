#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes tests/data/broken/*.safetensors and tests/data/broken/manifest.json
(deterministic, seeded): one file per refusal in docs/model_format.md
"What is refused". Each file is a small valid model with exactly one defect.

manifest.json: [{"file": ..., "why": ..., "expect": [substrings of the error message]}]

After writing, every file is checked against mamba_ref's strict loader (its
message must contain every expected substring), and the unmodified bases are
checked to load.

    /usr/bin/python3 tests/reference/make_broken_corpus.py
"""

import copy
import json
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mamba_ref as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "broken")

L0 = "backbone.layers.0."
META1 = {"format": "sidewinder", "format_version": "1", "arch": "mamba1", "sample_rate": "48000",
         "norm_eps": "1e-5", "name": "broken-base", "description": "base of the broken-file corpus"}


def base_mamba1(layers=1, seed=7):
    """A small valid Mamba-1 model: L layers, D=8 E=16 N=4 K=4 R=1, mono audio head with skip."""
    rng = np.random.default_rng(seed)
    return ref.random_tensors(rng, "mamba1", layers, 8, 16, 4, 4, R=1, C_in=1, C_out=1, skip=True)


def base_mamba2_bad_groups(seed=8):
    """Mamba-2 with ngroups=3, heads=4 (headdim 6, d_inner 24): shapes consistent with G=3,
    E % G == 0, but H % G != 0."""
    rng = np.random.default_rng(seed)
    E, P, G, N, K, D = 24, 6, 3, 2, 2, 8
    t = ref.random_tensors(rng, "mamba2", 1, D, E, N, K, P=P, G=G, C_in=1, C_out=1, skip=True)
    meta = {"format": "sidewinder", "format_version": "1", "arch": "mamba2", "sample_rate": "48000",
            "norm_eps": "1e-5", "headdim": str(P), "ngroups": str(G)}
    return t, meta


def entries(tensors):
    return [(n, "F32", np.asarray(a).shape, ref.encode_tensor(a, "F32")) for n, a in tensors.items()]


def build(tensors, meta):
    """-> (header dict, data bytes)"""
    return ref.pack_safetensors(entries(tensors), meta)


def blob(header, data):
    return ref.encode_header(header) + data


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".safetensors") or f == "manifest.json":
            os.remove(os.path.join(OUT, f))

    base_t = base_mamba1()
    base_h, base_d = build(base_t, META1)
    base_blob = blob(base_h, base_d)
    manifest = []

    def add(fname, why, expect, content):
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(content)
        manifest.append({"file": fname, "why": why, "expect": expect})

    def with_header(mut):
        h = copy.deepcopy(base_h)
        mut(h)
        return blob(h, base_d)

    def with_meta(mut):
        def f(h):
            mut(h["__metadata__"])
        return with_header(f)

    def with_tensors(mut, meta=META1):
        t = copy.deepcopy(base_t)
        mut(t)
        return blob(*build(t, meta))

    # --- container ----------------------------------------------------------
    add("truncated_5_bytes.safetensors", "file of 5 bytes (shorter than the 8-byte header length)",
        ["truncated"], base_blob[:5])
    add("empty.safetensors", "empty file (0 bytes)", ["truncated"], b"")
    hl = struct.pack("<Q", len(base_blob) + 1) + base_blob[8:]
    add("header_length_past_end.safetensors", "header length field larger than the whole file",
        ["header length"], hl)
    hdr_len = struct.unpack("<Q", base_blob[:8])[0]
    bad = b'{"backbone.norm_f.weight": {"dtype": "F32", not json'
    bad += b" " * (hdr_len - len(bad))
    add("header_not_json.safetensors", "header is not valid JSON (same length, rest of file intact)",
        ["JSON"], base_blob[:8] + bad + base_d)
    arr = b'[1, 2, 3]'
    arr += b" " * (hdr_len - len(arr))
    add("header_json_array.safetensors", "header is valid JSON but an array, not an object",
        ["JSON"], base_blob[:8] + arr + base_d)

    # --- tensor entries -------------------------------------------------------
    def i64(h):   # 8 x F32 (32 bytes) -> 4 x I64 (32 bytes): only the dtype is wrong
        h["backbone.norm_f.weight"]["dtype"] = "I64"
        h["backbone.norm_f.weight"]["shape"] = [4]
    add("dtype_i64.safetensors", "tensor backbone.norm_f.weight has unsupported dtype I64 "
        "(byte size kept consistent: shape [4] x 8 bytes)",
        ["dtype", "backbone.norm_f.weight"], with_header(i64))
    add("missing_shape.safetensors", "tensor entry backbone.norm_f.weight has no \"shape\" key",
        ["shape", "backbone.norm_f.weight"],
        with_header(lambda h: h["backbone.norm_f.weight"].pop("shape")))

    last = max((n for n in base_h if n != "__metadata__"), key=lambda n: base_h[n]["data_offsets"][1])
    add("data_past_end.safetensors", f"file cut 4 bytes short inside the data of the last tensor ({last})",
        ["past the end", last], base_blob[:-4])

    # overlap without leaving a hole: shift the last tensor 4 bytes back into its predecessor and
    # drop 4 bytes from the end of the file
    def overlap(h):
        b, e = h[last]["data_offsets"]
        h[last]["data_offsets"] = [b - 4, e - 4]
    h = copy.deepcopy(base_h)
    overlap(h)
    prev = max((n for n in base_h if n not in ("__metadata__", last)),
               key=lambda n: base_h[n]["data_offsets"][1])
    add("overlap.safetensors", f"{last} shifted 4 bytes back so that it overlaps {prev} "
        "(file shortened by 4 bytes, so no hole and nothing past the end)",
        ["overlap"], blob(h, base_d[:-4]))

    def size_mismatch(h):
        h["backbone.norm_f.weight"]["shape"] = [7]     # 28 bytes, offsets span 32
    add("size_mismatch.safetensors", "backbone.norm_f.weight shape [7] (28 bytes) but data_offsets span 32 bytes",
        ["does not match", "backbone.norm_f.weight"], with_header(size_mismatch))

    def huge(h):
        h[L0 + "mixer.D"]["shape"] = [1 << 40]       # offsets stay tiny (64 bytes)
    add("too_large.safetensors", f"{L0}mixer.D claims shape [2^40] (4 TiB) with its original 64-byte offsets",
        ["too large", L0 + "mixer.D"], with_header(huge))

    # --- tensor set and shapes ------------------------------------------------
    add("missing_D.safetensors", f"tensor {L0}mixer.D is absent (file rebuilt without it)",
        ["missing tensor", L0 + "mixer.D"], with_tensors(lambda t: t.pop(L0 + "mixer.D")))

    def bogus(t):
        t[L0 + "mixer.bogus"] = np.ones(16)
    add("unexpected_tensor.safetensors", f"an extra unknown tensor {L0}mixer.bogus [16]",
        ["unexpected tensor", L0 + "mixer.bogus"], with_tensors(bogus))

    def xproj_rows(t):
        w = t[L0 + "mixer.x_proj.weight"]
        t[L0 + "mixer.x_proj.weight"] = np.vstack([w, w[:1]])     # [R+2N+1, E] = [10, 16]
    add("xproj_wrong_rows.safetensors", f"{L0}mixer.x_proj.weight is [10, 16], expected [R+2N, E] = [9, 16]",
        ["shape", L0 + "mixer.x_proj.weight"], with_tensors(xproj_rows))

    def nan(t):
        t[L0 + "mixer.A_log"][1, 2] = np.nan
    add("nan_A_log.safetensors", f"a NaN in {L0}mixer.A_log",
        ["non-finite", L0 + "mixer.A_log"], with_tensors(nan))

    def inf(t):
        t[L0 + "mixer.out_proj.weight"][3, 5] = np.inf
    add("inf_out_proj.safetensors", f"an Inf in {L0}mixer.out_proj.weight",
        ["non-finite", L0 + "mixer.out_proj.weight"], with_tensors(inf))

    t2 = base_mamba1(layers=2, seed=9)
    t2 = {n.replace("backbone.layers.1.", "backbone.layers.2."): a for n, a in t2.items()}
    add("layer_gap.safetensors", "layers numbered 0 and 2 (layer 1 missing)",
        ["missing tensor", "backbone.layers.1"], blob(*build(t2, META1)))

    # --- metadata -------------------------------------------------------------
    add("format_version_2.safetensors", "format_version \"2\"", ["format_version", "supported: 1"],
        with_meta(lambda m: m.update(format_version="2")))
    add("format_version_abc.safetensors", "format_version \"abc\" (not an integer)", ["format_version"],
        with_meta(lambda m: m.update(format_version="abc")))
    add("arch_mamba3.safetensors", "arch \"mamba3\"", ["arch", "mamba3"],
        with_meta(lambda m: m.update(arch="mamba3")))
    add("no_sample_rate.safetensors", "metadata without sample_rate", ["sample_rate"],
        with_meta(lambda m: m.pop("sample_rate")))
    add("sample_rate_negative.safetensors", "sample_rate \"-5\"", ["sample_rate"],
        with_meta(lambda m: m.update(sample_rate="-5")))
    add("format_onnx.safetensors", "format \"onnx\" (file has audio.* tensors, so it is not a plain backbone)",
        ["format"], with_meta(lambda m: m.update(format="onnx")))
    add("norm_eps_negative.safetensors", "norm_eps \"-1\"", ["norm_eps"],
        with_meta(lambda m: m.update(norm_eps="-1")))
    tg, mg = base_mamba2_bad_groups()
    add("mamba2_ngroups.safetensors", "mamba2, heads 4 (headdim 6, d_inner 24), ngroups 3: "
        "shapes consistent with G=3 but 3 does not divide 4 heads", ["ngroups"], blob(*build(tg, mg)))

    add("gate_norm_eps_bad.safetensors", "gate_norm_eps \"abc\"", ["gate_norm_eps"],
        with_meta(lambda m: m.update(gate_norm_eps="abc")))
    # A plain (non-Sidewinder) Mamba-2 backbone must state ngroups: G groups of N
    # and one group of G*N have the same shapes.
    rng = np.random.default_rng(10)
    tp = ref.random_tensors(rng, "mamba2", 1, 8, 16, 4, 2, P=8, G=2, audio=False)
    add("mamba2_plain_no_ngroups.safetensors", "plain Mamba-2 backbone (format pt) without ngroups metadata",
        ["ngroups"], blob(*build(tp, {"format": "pt"})))
    add("a_log_claims_huge_shape.safetensors", "A_log claims shape [8192, 8192] while its offsets span 256 bytes",
        ["A_log", "does not match"], with_header(lambda h: h[L0 + "mixer.A_log"].update(shape=[8192, 8192])))
    nested = b"[" * 200 + b"]" * 200
    add("header_deeply_nested.safetensors", "a 400-byte header of 200 nested arrays",
        ["JSON"], len(nested).to_bytes(8, "little") + nested)

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # --- self-check against the reference's strict loader ----------------------
    with tempfile.TemporaryDirectory() as d:     # the unmodified bases load
        for i, content in enumerate([base_blob, blob(*build(base_mamba1(layers=2, seed=9), META1))]):
            fn = os.path.join(d, f"base{i}.safetensors")
            with open(fn, "wb") as f:
                f.write(content)
            ref.load_model(fn)
    for e in manifest:
        path = os.path.join(OUT, e["file"])
        assert os.path.getsize(path) < 10_000, e["file"]
        try:
            ref.load_model(path)
        except ref.ModelError as err:
            msg = str(err)
            missing = [s for s in e["expect"] if s not in msg]
            assert not missing, (e["file"], msg, missing)
            assert msg.startswith(path + ": "), msg
            print(f"{e['file']:40s} refused: {msg[len(path) + 2:]}")
        else:
            raise AssertionError(f"{e['file']} loaded but should be refused")
    print(f"{len(manifest)} broken files, all refused with the expected substrings")


if __name__ == "__main__":
    main()
