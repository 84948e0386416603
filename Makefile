# Shortcuts for the scripts the README names.
.PHONY: demo test bench build
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
build:
	swift build
bench:
	swift build -c release --product topiary-bench
	.build/release/topiary-bench core
	.build/release/topiary-bench store
	.build/release/topiary-bench dashboard
	.build/release/topiary-bench artifacts
