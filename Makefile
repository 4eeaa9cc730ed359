# Two entry points, both usable on a fresh machine:
#   make demo  -> sets up .venv and tags the bundled example clip with the pretrained mtt-musicnn
#   make test  -> sets up .venv and runs the linters, the layer contract and the test suite
#   make docs  -> builds the documentation site into build/site
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup system-tools demo test lint docs bench clean

$(BIN)/musictag: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned to the CPU build available here; the package itself accepts a range
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# the SoundFont synthesizer of `musictag synth`; --no-deps: its pyaudio dependency is for live playback only
	$(BIN)/pip install -q --no-deps tinysoundfont==0.3.7
	touch $@

setup: $(BIN)/musictag

demo: setup
	$(BIN)/musictag tag examples/example.flac --top-k 5

# What the tests and the README's figures use from Debian: ffmpeg/ffprobe (tags read back), Chromium and
# its driver (the browser test), the FluidR3_GM SoundFont (`synth` and the concept bank; without it they
# fall back to TimGM6mb and the README's figures are not reproduced), Festival with two recorded voices
# (`synth --voice festival`). Best effort, as root: otherwise one line says what is missing, and the tests
# that need a missing tool skip and say so.
SOUNDFONT := /usr/share/sounds/sf2/FluidR3_GM.sf2
FESTIVAL_VOICES := /usr/share/festival/voices
system-tools:
	-@command -v ffprobe >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
	  [ -f $(SOUNDFONT) ] && command -v text2wave >/dev/null && [ -d $(FESTIVAL_VOICES)/us/cmu_us_slt_arctic_hts ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get update -qq && apt-get install -y -qq ffmpeg chromium chromium-driver fluid-soundfont-gm \
	      festival festvox-kallpc16k festvox-us-slt-hts) >/dev/null 2>&1 || \
	    echo "make: could not install ffmpeg/chromium/chromium-driver/fluid-soundfont-gm/festival voices; the" \
	      "tests that need them will skip, synth falls back to TimGM6mb and to its formant voice"; }

test: setup system-tools
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

# the documentation site (MkDocs, Material, mkdocstrings) into build/site; warnings are errors
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: setup
	$(BIN)/python benchmarks/tag_throughput.py ../shared/data/gtzan_mini

clean:
	rm -rf $(VENV) build dist src/*.egg-info
