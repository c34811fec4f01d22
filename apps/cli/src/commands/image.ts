/**
 * The image commands, under the names Docker gives them: top-level (`strata images`, `strata rmi`,
 * `strata import`…) and grouped under `strata image` (`image ls`, `image rm`, `image inspect`…).
 */
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { defineCat, defineLsFiles } from './image-files.js';
import { defineHistory } from './image-history.js';
import { defineImages, defineInspect } from './image-list.js';
import { defineRemove } from './image-remove.js';
import { defineSave } from './image-save.js';
import { defineImport, defineLoad } from './image-upload.js';

type ContextOf = (command: Command) => Context;

export function registerImages(program: Command, contextOf: ContextOf): void {
  defineImages(program.command('images'), contextOf);
  defineImport(program.command('import'), contextOf);
  defineLoad(program.command('load'), contextOf);
  defineSave(program.command('save'), contextOf);
  defineHistory(program.command('history'), contextOf);
  defineRemove(program.command('rmi'), contextOf);

  const image = program.command('image').description('manage images: ls, inspect, history, ls-files, cat, rm, import, load, save');
  defineImages(image.command('ls'), contextOf).alias('list');
  defineInspect(image.command('inspect'), contextOf);
  defineHistory(image.command('history'), contextOf);
  defineLsFiles(image.command('ls-files'), contextOf);
  defineCat(image.command('cat'), contextOf);
  defineRemove(image.command('rm'), contextOf).alias('remove');
  defineImport(image.command('import'), contextOf);
  defineLoad(image.command('load'), contextOf);
  defineSave(image.command('save'), contextOf);
}
