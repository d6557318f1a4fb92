"""first1000: perinatal cohort analyses, from SES and maternal mood through biological
mechanisms to child outcomes.

The workflow itself runs with Snakemake (`make demo`, or `snakemake --cores N`); this
command checks a config before a run, creates the pseudonymisation key and writes the
synthetic demo cohort."""

from __future__ import annotations

import argparse
import sys

from first1000.errors import First1000Error


def main(argv=None) -> int:
    from first1000 import __version__

    parser = argparse.ArgumentParser(prog="first1000", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"first1000 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="write the synthetic demo cohort")
    sim.add_argument("--out", required=True, help="output folder, e.g. resources/demo")
    sim.add_argument("--seed", type=int, default=None, help="random seed (default: the demo's)")
    check = sub.add_parser("check-config", help="validate a config file and its cohort mappings")
    check.add_argument("configfile")
    init = sub.add_parser("init-key", help="create the pseudonymisation key named by a config's privacy.key_file")
    init.add_argument("configfile", nargs="?", default="config/config.yaml",
                      help="the config whose privacy.key_file to create (default: config/config.yaml)")
    args = parser.parse_args(argv)
    try:
        if args.command == "simulate":
            from first1000.simulate import DEMO_SEED, simulate

            facts = simulate(args.out, seed=DEMO_SEED if args.seed is None else args.seed)
            total = sum(facts["participants"].values())
            print(f"first1000: wrote {total} simulated participants to {args.out} (seed {facts['seed']})")
        elif args.command == "check-config":
            from first1000.config import load_config
            from first1000.plan import check_settings, config_warnings

            cfg = load_config(args.configfile)
            check_settings(cfg)
            for warning in config_warnings(cfg):
                print(f"first1000: warning: {warning}", file=sys.stderr)
            print(f"first1000: {args.configfile} is valid")
        elif args.command == "init-key":
            from first1000.config import load_config
            from first1000.keys import init_key

            path = load_config(args.configfile)["privacy"]["key_file"]
            fingerprint = init_key(path)
            print(f"first1000: created the pseudonymisation key {path} (fingerprint {fingerprint}); keep it and a "
                  "backup outside results/: the same IDs get the same pseudonyms only with this key")
    except First1000Error as exc:
        print(f"first1000: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
