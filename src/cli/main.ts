// placeholder entry; replaced by the CLI implementation.
process.stdout.write('shadowvisor: not built yet\n');
