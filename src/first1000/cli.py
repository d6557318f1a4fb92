"""first1000: perinatal cohort analyses, from SES and maternal mood through biological
mechanisms to child outcomes.

`first1000 run` runs the workflow (Snakemake underneath, with a short progress display;
`snakemake --cores N` works as well) and `first1000 report` builds results/report.html;
the other commands check a config before a run, create the pseudonymisation key and write
the synthetic demo cohort."""

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
    run = sub.add_parser("run", help="run the workflow with a short progress display (Snakemake underneath)")
    run.add_argument("--cores", type=int, default=None, help="cores to use (default: the profile's)")
    run.add_argument("--profile", default=None, help="a workflow profile folder, e.g. profiles/slurm")
    run.add_argument("--configfile", default=None, help="a config file (default: config/config.yaml)")
    run.add_argument("--verbose", action="store_true", help="show Snakemake's full output instead")
    run.add_argument("targets", nargs="*", help="files to make (default: everything)")
    report = sub.add_parser("report", help="build results/report.html from a finished run")
    report.add_argument("--configfile", default=None, help="the run's config file (default: config/config.yaml)")
    report.add_argument("--verbose", action="store_true", help="show Snakemake's full output instead")
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
        elif args.command in ("run", "report"):
            from first1000.config import refuse_unsafe_config
            from first1000.runner import pending_jobs, run as run_snakemake, snakemake_command

            refuse_unsafe_config(args.configfile or "config/config.yaml")  # before Snakemake reads it

            if args.command == "run":
                return run_snakemake(snakemake_command(args.cores, args.profile, args.configfile, args.targets),
                                     verbose=args.verbose)
            pending = pending_jobs(args.configfile)
            if pending:
                config = args.configfile or "config/config.yaml"
                raise First1000Error(
                    f"the results are not up to date with {config}: {sum(pending.values())} jobs would run "
                    f"({', '.join(sorted(pending)[:6])}{', …' if len(pending) > 6 else ''}), e.g. after an edit of "
                    "the config or an update of first1000. A report now would mix the new "
                    "settings with the old results. Run `first1000 run` first (`make demo` does both).")
            return run_snakemake(snakemake_command(configfile=args.configfile, report="results/report.html"),
                                 verbose=args.verbose, done_text="report written to results/report.html")
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
