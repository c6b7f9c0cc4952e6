# The self-signed TLS certificate HAProxy serves, and its fingerprint. Sourced by scripts/lib.sh.
# shellcheck shell=bash

# make_certificate DIR [NAMES]: a self-signed TLS certificate for localhost and 127.0.0.1 (or NAMES, as openssl's
# subjectAltName: scripts/cluster's is for IP:10.77.0.100) (P-256, about two years), made once:
# DIR/cert.pem (what clients trust: sealpost --server-certificate) and DIR/haproxy.pem (certificate and key, 0600).
make_certificate() {
  local dir=$1 names=${2:-DNS:localhost,IP:127.0.0.1}
  [ -s "$dir/haproxy.pem" ] && [ -s "$dir/cert.pem" ] && return 0
  mkdir -p "$dir"
  chmod 700 "$dir"
  (umask 077
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=Sealpost on this machine" \
     -addext "subjectAltName=$names" -keyout "$dir/key.pem" -out "$dir/cert.pem.tmp" 2>/dev/null \
     && cat "$dir/cert.pem.tmp" "$dir/key.pem" >"$dir/haproxy.pem" && rm -f "$dir/key.pem") || { say "openssl could not make a certificate"; return 1; }
  chmod 644 "$dir/cert.pem.tmp"
  mv "$dir/cert.pem.tmp" "$dir/cert.pem"
}

# certificate_fingerprint FILE: its SHA-256 fingerprint, as people compare them.
certificate_fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
