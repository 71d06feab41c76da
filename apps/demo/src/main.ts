// `npm start`: the router on its embedded default (see launcher.ts). Arguments are router flags.
import { runDemo } from './launcher.ts';

const args = process.argv.slice(2);
if (args[0] === '--') args.shift();
process.exit(await runDemo(args));
