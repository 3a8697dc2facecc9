"""The command line the golden generators share (tools/trl_terms_golden.py, tools/verl_terms_golden.py).

Each generator builds its fixture's whole text with `generate(selected)`; this writes it to --out,
or with --check regenerates it and compares byte for byte (exit status 1 when it differs), or
lists the cases.
"""
import argparse


def main(description, cases, generate, library, installed, written_for, default_out, torch):
    """Runs one generator: `cases` are its (name, what, ...) tuples, `generate` its text builder,
    `library` the name of the library whose code computes the values, `installed` and
    `written_for` its installed version and the one the script was written for."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--check", action="store_true", help="regenerate and compare with --out byte for byte")
    ap.add_argument("--case", action="append", help="only these cases (no hand checks)")
    ap.add_argument("--list", action="store_true", help="print the case names")
    args = ap.parse_args()
    if args.list:
        for name, what, *_ in cases:
            print("%-52s %s" % (name, what))
        return 0
    if installed != written_for:
        print("warning: %s %s installed; this script was written for %s %s" % (library, installed, library, written_for))
    torch.set_num_threads(1)  # the same reduction order on every machine
    text = generate(set(args.case) if args.case else None)
    if args.check:
        with open(args.out) as f:
            same = f.read() == text
        print("%s: %s" % (args.out, "identical" if same else "DIFFERS"))
        return 0 if same else 1
    with open(args.out, "w") as f:
        f.write(text)
    print("wrote %s: %d cases, %d bytes" % (args.out, text.count('"name":'), len(text.encode())))
    return 0
