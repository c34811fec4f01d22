/**
 * Docker's rule for `run`, `create` and `exec`: everything after the image (or the container) is the
 * command to run, even what looks like a flag (`strata run busybox sh -c 'ls -l'`).
 *
 * Commander's own way (passThroughOptions) needs positional options on the whole program, which would
 * stop global options from following the command (`strata repo ls --json`). And without it the program
 * takes its own options from anywhere in the line, so `strata run busybox env --json` would lose the
 * `--json` meant for the container. So the line is looked at before commander parses it: the command's
 * leading operands and options are found with commander's own definitions, and a `--` is put after the
 * last leading operand, after which commander takes every word literally.
 */
import type { Command, Option } from 'commander';

/** How many operands come before the trailing command (1: the image, or the container). */
const leadingOperands = new WeakMap<Command, number>();

/** Marks `command` as one whose operands after the first `count` are a command line of their own. */
export function takesTrailingCommand(command: Command, count = 1): Command {
  leadingOperands.set(command, count);
  return command;
}

const findOption = (command: Command, flag: string): Option | undefined => {
  for (let c: Command | null = command; c; c = c.parent) {
    const option = c.options.find((o) => o.long === flag || o.short === flag);
    if (option) return option;
  }
  return undefined;
};

const takesValue = (option: Option | undefined): boolean => option !== undefined && (option.required || option.optional);

const findSubcommand = (command: Command, name: string): Command | undefined =>
  command.commands.find((c) => c.name() === name || c.aliases().includes(name));

/**
 * `argv` with `--` inserted after the leading operands of a command marked by takesTrailingCommand;
 * unchanged for every other command, or when the user wrote a `--` of their own before the command.
 */
export function protectTrailingCommand(program: Command, argv: readonly string[]): string[] {
  let command = program;
  let operands = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return [...argv];
    if (arg.length > 1 && arg.startsWith('-')) {
      i += valueWords(command, arg);
      continue;
    }
    if (operands === 0) {
      const sub = findSubcommand(command, arg);
      if (sub) {
        command = sub;
        continue;
      }
    }
    operands++;
    if (leadingOperands.get(command) === operands) {
      // `strata run busybox -- sh` already says it; a second `--` would become part of the command.
      if (argv[i + 1] === '--') return [...argv];
      return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
    }
  }
  return [...argv];
}

/** How many following words an option consumes as its value: 0 or 1. */
function valueWords(command: Command, arg: string): number {
  if (arg.startsWith('--')) return arg.includes('=') ? 0 : takesValue(findOption(command, arg)) ? 1 : 0;
  // A group of short flags (`-dq`, `-eK=V`): the first one that takes a value takes the rest of the
  // word, or the next word when it ends the group.
  for (let j = 1; j < arg.length; j++) {
    if (takesValue(findOption(command, `-${arg[j]}`))) return j === arg.length - 1 ? 1 : 0;
  }
  return 0;
}
