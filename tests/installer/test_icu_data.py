"""The bundle build's reduced ICU data, made from the ICU data library of the installed PySide6.

Qt links ICU, whose data library (32 MB) is mostly other languages' locale data,
charset tables and dictionaries that the English window never reads. The build
keeps only what Qt asks for; these tests make that library as the build does and
check it against the original.
"""

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import PySide6
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = runpy.run_path(str(REPO / "installer" / "build_bundle.py"))
(ORIGINAL,) = (Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*")

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or not all(map(shutil.which, ("icupkg", "cc", "nm", "readelf"))),
    reason="needs Linux, ICU's tools (icu-devtools) and a C compiler",
)


def test_only_other_languages_charset_tables_and_unlinked_services_are_dropped():
    items = [
        "root.res", "pool.res", "res_index.res", "en.res", "en_GB.res", "de.res", "zh_Hant.res",
        "coll/root.res", "coll/ucadata.icu", "coll/en_US_POSIX.res", "coll/de__PHONEBOOK.res",
        "coll/es_.res", "zone/en.res", "zone/fr_CA.res", "zone/tzdbNames.res", "zoneinfo64.res",
        "metaZones.res", "supplementalData.res", "cnvalias.icu", "ibm-5348_P100-1997.cnv",
        "brkitr/char.brk", "brkitr/thaidict.dict", "translit/root.res", "nfkc.nrm",
    ]  # fmt: skip
    assert BUILD["icu_items_to_drop"](items) == [
        "de.res", "zh_Hant.res", "coll/de__PHONEBOOK.res", "coll/es_.res", "zone/fr_CA.res",
        "ibm-5348_P100-1997.cnv", "brkitr/char.brk", "brkitr/thaidict.dict", "translit/root.res",
    ]  # fmt: skip


def test_the_reduced_library_is_under_a_fifth_of_the_original_and_qt_answers_the_same(tmp_path):
    internal = tmp_path / "_internal"
    library = internal / "PySide6" / "Qt" / "lib" / ORIGINAL.name
    library.parent.mkdir(parents=True)
    shutil.copy2(ORIGINAL, library)

    saved = BUILD["reduce_icu_data"](internal, tmp_path / "work")

    assert saved == ORIGINAL.stat().st_size - library.stat().st_size
    assert library.stat().st_size < ORIGINAL.stat().st_size / 5
    english = BUILD["qt_text"](ORIGINAL)
    assert BUILD["qt_text"](library) == english
    assert english["numeric"][-4:] == ["file2", "file10", "zebra", "Z\u00fcrich"]
    assert english["zone"] == "Central European Standard Time"
    # The data inside is a valid ICU package under ICU's own name, without other languages.
    symbol, blob = BUILD["_icu_data"](library)
    package = tmp_path / f"{symbol.removesuffix('_dat')}{sys.byteorder[0]}.dat"
    package.write_bytes(blob)
    listed = subprocess.run(
        ["icupkg", "-l", str(package)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"coll/root.res", "coll/en.res", "zone/en.res", "metaZones.res"} <= set(listed)
    assert not BUILD["icu_items_to_drop"](listed)
