"""``python -m orthogen.synth OUTDIR`` writes the bundled sample scans."""

from orthogen.synth.model import main

raise SystemExit(main())
