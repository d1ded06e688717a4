#!/usr/bin/env bash
# package-test.sh (make package-test; part of make test): checks META.json
# against the PGXN meta spec, builds the Debian package with
# dpkg-buildpackage from a copy of this tree, and checks the package
# without installing it into the system: its files are where Debian puts a
# PostgreSQL extension, lintian finds no error, and, extracted into a
# private copy of the system's PostgreSQL installation, CREATE EXTENSION
# works on a throw-away cluster that preloads the packaged library.
# Prints TAP; exits non-zero if any check failed.
#
# Installs what it needs as root (dpkg-dev, debhelper, fakeroot, lintian,
# postgresql-server-dev-all); PACKAGE_OUT=DIR keeps the built .deb files in
# DIR.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/common.sh

ensure_packages $BASE_PACKAGES perl dpkg-dev debhelper fakeroot lintian postgresql-server-dev-all

EXTENSION=opendims_privacy
EXTVERSION=$(sed -n "s/^default_version = '\(.*\)'/\1/p" $EXTENSION.control)
PACKAGE=postgresql-$PG_MAJOR-opendims-privacy
DEB_VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
with_work_dir opendims_privacy_package

TEST_NO=0
FAILED=0

# check DESCRIPTION CMD...: one TAP line, "ok" if CMD succeeds; what CMD
# printed becomes the diagnostic of a failure.
check() {
	local description=$1 out
	shift
	TEST_NO=$((TEST_NO + 1))
	if out=$("$@" 2>&1); then
		echo "ok $TEST_NO - $description"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $TEST_NO - $description"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/# /'
	fi
}

# META.json: the PGXN meta spec 1.0.0's required keys and formats, and the
# version and extension this tree provides.
meta_valid() {
	perl -MJSON::PP -e '
		my ($file, $version) = @ARGV;
		local $/; open my $fh, "<", $file or die "$file: $!\n";
		my $m = JSON::PP->new->decode(<$fh>);
		my $semver = qr/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$/;
		my @bad;
		for my $k (qw(name abstract version maintainer license provides meta-spec)) {
			push @bad, "required key \"$k\" is missing" unless exists $m->{$k};
		}
		push @bad, "name must have no whitespace, slash, backslash or colon"
			unless ($m->{name} // "") =~ m{^[^\s/\\:]{2,}$};
		push @bad, "version \"$m->{version}\" is not a semantic version" unless ($m->{version} // "") =~ $semver;
		push @bad, "version must be $version.0, from the control file" unless ($m->{version} // "") eq "$version.0";
		push @bad, "meta-spec version must be 1.0.0" unless (($m->{"meta-spec"} // {})->{version} // "") eq "1.0.0";
		my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd
			gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5
			postgresql qpl_1_0 ssleay sun zlib restricted open_source unrestricted unknown);
		push @bad, "license \"$m->{license}\" is not one the spec names" unless $licenses{$m->{license} // ""};
		my $maint = $m->{maintainer};
		push @bad, "maintainer must be a string or a list of strings"
			unless defined $maint && (!ref $maint || (ref $maint eq "ARRAY" && @$maint && !grep { ref } @$maint));
		my $p = $m->{provides} // {};
		push @bad, "provides must name opendims_privacy" unless ref $p eq "HASH" && $p->{opendims_privacy};
		for my $ext (sort keys %$p) {
			my $e = $p->{$ext};
			push @bad, "provides.$ext needs file and version" unless $e->{file} && $e->{version};
			push @bad, "provides.$ext.version is not a semantic version" unless ($e->{version} // "") =~ $semver;
			push @bad, "provides.$ext.version differs from version" unless ($e->{version} // "") eq ($m->{version} // "");
			push @bad, "provides.$ext.$_ names a file that does not exist" for grep { $e->{$_} && !-f $e->{$_} } qw(file docfile);
		}
		push @bad, "release_status must be stable, testing or unstable"
			if exists $m->{release_status} && $m->{release_status} !~ /^(stable|testing|unstable)$/;
		for my $phase (keys %{ $m->{prereqs} // {} }) {
			push @bad, "prereqs phase \"$phase\" is not one the spec names" unless $phase =~ /^(configure|build|test|runtime|develop)$/;
			for my $rel (keys %{ $m->{prereqs}{$phase} }) {
				push @bad, "prereqs relationship \"$rel\" is not one the spec names" unless $rel =~ /^(requires|recommends|suggests|conflicts)$/;
			}
		}
		print "$_\n" for @bad;
		exit(@bad ? 1 : 0);
	' META.json "$EXTVERSION"
}
check "META.json is valid against the PGXN meta spec 1.0.0 and provides $EXTENSION $EXTVERSION.0" meta_valid
check "debian/changelog's version $DEB_VERSION is release $EXTVERSION.0" \
	test "${DEB_VERSION%-*}" = "$EXTVERSION.0"
check "debian/control is what pg_buildext generates from debian/control.in" \
	pg_buildext checkcontrol

# Build from a copy of the tree's files (tracked and new, not ignored), so
# that the build's output stays out of this tree.
build() {
	mkdir -p "$WORK/src"
	if git rev-parse --git-dir >/dev/null 2>&1; then
		git ls-files -z -c -o --exclude-standard | tar --null -cf - -T -
	else
		tar --exclude=.git -cf - .
	fi | tar -xf - -C "$WORK/src" &&
		env -C "$WORK/src" dpkg-buildpackage -us -uc -b
}
log "building the Debian package (dpkg-buildpackage -us -uc -b)" >&2
check "dpkg-buildpackage -us -uc -b builds the package" build
DEB=$(ls "$WORK"/${PACKAGE}_${DEB_VERSION}_*.deb 2>/dev/null | head -n 1)
if [ -z "$DEB" ]; then
	echo "Bail out! no $PACKAGE .deb was built"
	exit 1
fi
[ -n "${PACKAGE_OUT:-}" ] && mkdir -p "$PACKAGE_OUT" && cp "$WORK"/*.deb "$PACKAGE_OUT"/

# Where Debian puts a PostgreSQL extension: the library in the major's
# pkglibdir, the control file and scripts in its sharedir, documentation
# under /usr/share/doc/PACKAGE, and nothing else.
files_in_place() {
	local files expected f
	files=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort)
	expected="/usr/lib/postgresql/$PG_MAJOR/lib/$EXTENSION.so
/usr/share/postgresql/$PG_MAJOR/extension/$EXTENSION.control
/usr/share/postgresql/$PG_MAJOR/extension/$EXTENSION--$EXTVERSION.sql"
	for f in $(ls $EXTENSION--*--*.sql); do
		expected="$expected
/usr/share/postgresql/$PG_MAJOR/extension/$f"
	done
	for f in $expected; do
		grep -qxF "$f" <<<"$files" || { echo "missing: $f"; return 1; }
	done
	grep -qx "/usr/share/doc/$PACKAGE/copyright" <<<"$files" || { echo "missing: copyright"; return 1; }
	if grep -vxF "$expected" <<<"$files" | grep -v "^/usr/share/doc/$PACKAGE/"; then
		echo "unexpected files above"
		return 1
	fi
}
check "the package holds the library, control file and scripts where Debian puts them, and nothing else" files_in_place
check "the package depends on postgresql-$PG_MAJOR, libjson-c and libssl" \
	bash -c "dpkg-deb -f '$DEB' Depends | grep -E 'postgresql-$PG_MAJOR( |,|$)' | grep -q libjson-c && dpkg-deb -f '$DEB' Depends | grep -q libssl"
check "the package ships no LLVM bitcode" bash -c "! dpkg-deb -c '$DEB' | grep -q bitcode"
check "lintian reports no error" bash -c "! lintian '$DEB' 2>/dev/null | grep '^E:'"

# A private copy of the system's PostgreSQL installation, without any
# earlier build of the extension, with the package's files added.
SANDBOX=$WORK/pg
install_into_sandbox() {
	mkdir -p "$SANDBOX/usr/lib/postgresql" "$SANDBOX/usr/share/postgresql" "$WORK/deb" &&
		cp -a "/usr/lib/postgresql/$PG_MAJOR" "$SANDBOX/usr/lib/postgresql/" &&
		cp -a "/usr/share/postgresql/$PG_MAJOR" "$SANDBOX/usr/share/postgresql/" &&
		rm -f "$SANDBOX/usr/lib/postgresql/$PG_MAJOR/lib/$EXTENSION.so" \
			"$SANDBOX/usr/share/postgresql/$PG_MAJOR/extension/$EXTENSION".* \
			"$SANDBOX/usr/share/postgresql/$PG_MAJOR/extension/$EXTENSION"--* &&
		dpkg-deb -x "$DEB" "$WORK/deb" &&
		cp -a "$WORK/deb/usr/lib/postgresql/$PG_MAJOR/lib/." "$SANDBOX/usr/lib/postgresql/$PG_MAJOR/lib/" &&
		cp -a "$WORK/deb/usr/share/postgresql/$PG_MAJOR/extension/." \
			"$SANDBOX/usr/share/postgresql/$PG_MAJOR/extension/" &&
		chmod -R a+rX "$WORK"
}
check "the package's files extract into a copy of the PostgreSQL $PG_MAJOR installation" install_into_sandbox

PG_BINDIR=$SANDBOX/usr/lib/postgresql/$PG_MAJOR/bin
export PATH="$PG_BINDIR:$PATH"
check "the copy's server reads its extensions from the copy" \
	test "$("$PG_BINDIR/pg_config" --sharedir)" = "$SANDBOX/usr/share/postgresql/$PG_MAJOR"
if ! start_cluster "shared_preload_libraries = 'opendims_privacy'" >/dev/null 2>&1; then
	echo "not ok $((TEST_NO + 1)) - a cluster preloading the packaged library starts"
	echo "$TEST_NO checks, $((FAILED + 1)) failed"
	exit 1
fi
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
check "CREATE EXTENSION $EXTENSION works with the packaged files" sql "CREATE EXTENSION $EXTENSION"
check "the installed version is $EXTVERSION" \
	test "$(sql "SELECT extversion FROM pg_extension WHERE extname = '$EXTENSION'")" = "$EXTVERSION"
check "the packaged library is loaded and works (types, settings)" \
	test "$(sql "SELECT 'Mette.Holm@Example.DK'::privacy.email::text || ' ' || current_setting('privacy.purpose_scope')")" \
	= "Mette.Holm@example.dk session"
check "the packaged scripts update the previous release to $EXTVERSION" \
	test "$(sql "SELECT count(*) FROM pg_extension_update_paths('$EXTENSION') p
		WHERE p.target = '$EXTVERSION' AND p.path IS NOT NULL AND p.source <> '$EXTVERSION'")" -ge 1
check "DROP EXTENSION removes it" sql "DROP EXTENSION $EXTENSION"

echo "1..$TEST_NO"
[ "$FAILED" -eq 0 ]
