#!/usr/bin/env bash
# Build the rehearsal harness binaries from the official Go modules into a cache outside git:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   kwok                                                              (sigs.k8s.io/kwok)
#   talosctl                                                          (github.com/siderolabs/talos)
#   talosctl-vX.Y.Z, one per supported Talos minor (TALOSCTL_VERSIONS), for the version tests
#   argocd                                                            (github.com/argoproj/argo-cd/v3)
#   argocd-helm, argocd-kustomize: the helm and kustomize that ArgoCD's repo server runs
#   argocd-git-verify-wrapper.sh: the release's script its repo server runs on every commit
#   cilium-crds-vX.Y.Z: Cilium's CRDs of each CILIUM_CRD_VERSIONS release (files, not a build)
#   alertmanager-vX.Y.Z: the ALERTMANAGER_VERSION release           (github.com/prometheus/alertmanager)
# Versions come from tests/harness/versions.env only. A binary that already exists for the
# pinned versions is reused, so only the first run is slow.
#
# Usage: scripts/build-harness.sh [--print-bin-dir] [COMPONENT...]
#   --print-bin-dir  print the directory holding the binaries and exit (nothing is built)
#   COMPONENT        build only these (default: all of them)
# Environment: TALOS_PLATFORM_HARNESS_CACHE (default ~/.cache/talos-platform-harness).
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tests/harness/versions.env
source "$repo_root/tests/harness/versions.env"
source "$repo_root/scripts/harness/go-modules.sh"

cache_root="${TALOS_PLATFORM_HARNESS_CACHE:-$HOME/.cache/talos-platform-harness}"
pinned="k8s-${KUBERNETES_VERSION}_kwok-${KWOK_VERSION}_talos-${TALOS_VERSION}"
harness_dir="$cache_root/$pinned"
bin_dir="$harness_dir/bin"

all_components=(kube-apiserver kube-controller-manager kube-scheduler kubectl kwok talosctl
  argocd argocd-helm argocd-kustomize argocd-git-verify-wrapper.sh "alertmanager-$ALERTMANAGER_VERSION")
for cilium_version in $CILIUM_CRD_VERSIONS; do
  all_components+=("cilium-crds-$cilium_version")
done
# One talosctl per supported Talos minor, named with its full version so a patch bump builds
# a new binary instead of reusing a stale one.
for talosctl_version in $TALOSCTL_VERSIONS; do
  all_components+=("talosctl-$talosctl_version")
done

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$bin_dir"
  exit 0
fi

requested=("$@")
if [[ ${#requested[@]} -eq 0 ]]; then
  requested=("${all_components[@]}")
fi
for component in "${requested[@]}"; do
  if [[ ! " ${all_components[*]} " == *" $component "* ]]; then
    echo "build-harness: unknown component '$component' (known: ${all_components[*]})" >&2
    exit 2
  fi
done

if ! command -v go >/dev/null 2>&1; then
  echo "build-harness: the Go toolchain ('go') is not on PATH; install Go to build the harness" >&2
  exit 1
fi

mkdir -p "$bin_dir" "$harness_dir/logs"
# -mod=mod lets go fill in go.sum for the generated modules; keep any GOFLAGS already set.
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"

# Which generated module and package each component is built from.
module_of() {
  case "$1" in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) echo kubernetes ;;
    kwok) echo kwok ;;
    talosctl) echo talos ;;
    talosctl-*) echo "talos-${1#talosctl-}" ;;
    argocd) echo argocd ;;
    alertmanager-*) echo alertmanager ;;
  esac
}
package_of() {
  case "$1" in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) echo "k8s.io/kubernetes/cmd/$1" ;;
    kwok) echo "sigs.k8s.io/kwok/cmd/kwok" ;;
    talosctl|talosctl-*) echo "github.com/siderolabs/talos/cmd/talosctl" ;;
    argocd) echo "github.com/argoproj/argo-cd/v3/cmd" ;;
    alertmanager-*) echo "github.com/prometheus/alertmanager/cmd/alertmanager" ;;
  esac
}
# Version stamps, build tags and stripping as the upstream release builds set them.
set_build_flags() {
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  case "$(module_of "$1")" in
    kubernetes)
      build_flags=("-ldflags=-s -w
        -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION
        -X k8s.io/component-base/version.gitMajor=1
        -X k8s.io/component-base/version.gitMinor=$minor
        -X k8s.io/component-base/version.gitTreeState=clean
        -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION") ;;
    kwok) build_flags=("-ldflags=-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}") ;;
    talos|talos-*) build_flags=(-tags=grpcnotrace "-ldflags=-s -w") ;;
    argocd) build_flags=("-ldflags=-s -w -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION#v}") ;;
    # CGO_ENABLED=0 (above) gives the pure-Go resolver that the release's netgo tag asks for.
    alertmanager) build_flags=(-tags=netgo "-ldflags=-s -w -X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v}") ;;
  esac
  # The flag values above are spread over lines for reading; go wants them on one.
  build_flags=("${build_flags[@]//$'\n'/ }")
}

prepared_modules=" "
prepare_module() {
  local module="$1" dir="$harness_dir/modules/$1"
  [[ "$prepared_modules" == *" $module "* ]] && return 0
  mkdir -p "$dir"
  case "$module" in
    kubernetes) write_kubernetes_module "$dir" "$KUBERNETES_VERSION" ;;
    kwok) write_kwok_module "$dir" "$KWOK_VERSION" ;;
    talos) write_talos_module "$dir" "$TALOS_VERSION" ;;
    talos-*) write_talos_module "$dir" "${module#talos-}" ;;
    argocd) write_argocd_module "$dir" "$ARGOCD_VERSION" ;;
    alertmanager) write_alertmanager_module "$dir" "$ALERTMANAGER_VERSION" ;;
  esac
  prepared_modules+="$module "
}

build_component() {
  local component="$1" module dir log started elapsed
  module="$(module_of "$component")"
  dir="$harness_dir/modules/$module"
  log="$harness_dir/logs/$component.log"
  started=$SECONDS
  echo "build-harness: building $component from $(package_of "$component") (log: $log)"
  set_build_flags "$component"
  if ! (cd "$dir" && nice -n 10 go build -trimpath "${build_flags[@]}" -o "$bin_dir/.$component.partial" "$(package_of "$component")") \
        >"$log" 2>&1; then
    elapsed=$((SECONDS - started))
    echo "build-harness: FAILED to build $component after ${elapsed}s; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    rm -f "$bin_dir/.$component.partial"
    return 1
  fi
  # Rename only a complete binary into place, so an interrupted build is never reused.
  mv "$bin_dir/.$component.partial" "$bin_dir/$component"
  elapsed=$((SECONDS - started))
  echo "build-harness: built $component in ${elapsed}s"
}

# Modules without replace lines of their own install straight from the module proxy.
install_component() {
  local component="$1" package="$2" version="$3" ldflags="$4" binary="$5" log="$harness_dir/logs/$1.log" started=$SECONDS
  local staging="$bin_dir/.$component.gobin"
  echo "build-harness: building $component from $package@$version (log: $log)"
  rm -rf "$staging"
  if ! GOBIN="$staging" nice -n 10 go install -trimpath -ldflags "-s -w $ldflags" "$package@$version" >"$log" 2>&1; then
    echo "build-harness: FAILED to build $component after $((SECONDS - started))s; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    rm -rf "$staging"
    return 1
  fi
  if ! mv "$staging/$binary" "$bin_dir/$component"; then
    echo "build-harness: FAILED: go install made no $binary for $component" >&2
    rm -rf "$staging"
    return 1
  fi
  rm -rf "$staging"
  echo "build-harness: built $component in $((SECONDS - started))s"
}

total_started=$SECONDS
failed=()
for component in "${requested[@]}"; do
  case "$component" in
    argocd-git-verify-wrapper.sh)
      if [[ ! -x "$bin_dir/$component" ]]; then
        argocd_dir="$(GOTOOLCHAIN="$ARGOCD_GOTOOLCHAIN" go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" \
          | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
        install -m 0755 "$argocd_dir/hack/git-verify-wrapper.sh" "$bin_dir/$component" || failed+=("$component")
      fi
      continue ;;
    cilium-crds-*)
      crd_dir="$harness_dir/cilium-crds/${component#cilium-crds-}"
      if [[ -d "$crd_dir" ]]; then
        echo "build-harness: $component already there, reusing it"
      elif copy_cilium_crds "$crd_dir" "${component#cilium-crds-}" >>"$harness_dir/logs/modules.log" 2>&1; then
        echo "build-harness: copied $component into $crd_dir"
      else
        echo "build-harness: FAILED to copy $component; see $harness_dir/logs/modules.log" >&2
        failed+=("$component")
      fi
      continue ;;
  esac
  if [[ -x "$bin_dir/$component" ]]; then
    echo "build-harness: $component already built for $pinned, reusing it"
    continue
  fi
  # The versioned talosctl of the default Talos pin is the same build: link, don't rebuild.
  if [[ "$component" == "talosctl-$TALOS_VERSION" && -x "$bin_dir/talosctl" ]]; then
    ln -f "$bin_dir/talosctl" "$bin_dir/$component"
    echo "build-harness: $component is the default talosctl, linked"
    continue
  fi
  # ArgoCD's go.mod (and those of the kustomize and helm it ships) ask for a newer Go than the
  # machine's: the go command fetches that toolchain from the module proxy, for these builds only.
  case "$component" in
    argocd|argocd-*) export GOTOOLCHAIN="$ARGOCD_GOTOOLCHAIN" ;;
    *) unset GOTOOLCHAIN ;;
  esac
  case "$component" in
    argocd-helm)
      install_component "$component" helm.sh/helm/v4/cmd/helm "$ARGOCD_HELM_VERSION" \
        "-X helm.sh/helm/v4/internal/version.version=$ARGOCD_HELM_VERSION" helm || failed+=("$component")
      continue ;;
    argocd-kustomize)
      install_component "$component" sigs.k8s.io/kustomize/kustomize/v5 "$ARGOCD_KUSTOMIZE_VERSION" "" kustomize \
        || failed+=("$component")
      continue ;;
  esac
  # The generated module is shared by the Kubernetes binaries; prepare it once per run.
  prepare_module "$(module_of "$component")" >>"$harness_dir/logs/modules.log" 2>&1 || {
    echo "build-harness: FAILED to prepare the Go module for $component; see $harness_dir/logs/modules.log" >&2
    tail -n 40 "$harness_dir/logs/modules.log" >&2
    failed+=("$component")
    continue
  }
  build_component "$component" || failed+=("$component")
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "build-harness: could not build: ${failed[*]}" >&2
  exit 1
fi
echo "build-harness: all harness binaries ready in $bin_dir ($((SECONDS - total_started))s)"
