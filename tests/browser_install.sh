#!/usr/bin/env bash
# Install Debian's chromium for the browser test of the report (tests/workflow/test_report_browser.py)
# when it is missing: only as root with apt-get; otherwise say why not (the test then skips).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "browser-deps: chromium already installed"; exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser-deps: not root or no apt-get, not installing chromium; the browser test will be skipped"; exit 0
fi
echo "browser-deps: apt-get install chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
echo "browser-deps: installed $(dpkg-query -W -f '${Package} ${Version}' chromium)"
