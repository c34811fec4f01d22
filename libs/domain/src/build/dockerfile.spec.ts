import { describe, expect, it } from 'vitest';
import { codeOf } from '../testing/error-code.js';
import { baseImageOf, planBuild } from './build-plan.js';
import { parseDockerfile } from './dockerfile.js';
import { expandWord, expandWords } from './shell-words.js';

const plan = (text: string, options: Parameters<typeof planBuild>[1] = {}) => planBuild(parseDockerfile(text), options);

describe('Dockerfile parser', () => {
  it('reads instructions, comments and line continuations, with the first line of each', () => {
    const file = parseDockerfile(['# a comment', 'from busybox', '', 'RUN echo a \\', '  # a comment inside', '    && echo b', 'CMD ["sh", "-c", "echo hi"]'].join('\n'));
    expect(file.instructions.map((i) => [i.line, i.keyword])).toEqual([[2, 'FROM'], [4, 'RUN'], [7, 'CMD']]);
    expect(file.instructions[1]!.args).toBe('echo a     && echo b');
    expect(file.instructions[1]!.text).toBe('RUN echo a     && echo b');
    expect(file.instructions[2]!.json).toEqual(['sh', '-c', 'echo hi']);
  });

  it('honours the escape directive', () => {
    const file = parseDockerfile('# escape=`\nFROM scratch\nCOPY a `\n  b /x/\n');
    expect(file.escape).toBe('`');
    expect(file.instructions[1]!.args).toBe('a   b /x/');
  });

  it('takes COPY flags off and refuses the ones it does not know', () => {
    const file = parseDockerfile('FROM scratch\nCOPY --chown=1:2 --chmod=755 a /b\n');
    expect(file.instructions[1]).toMatchObject({ flags: { chown: '1:2', chmod: '755' }, args: 'a /b', text: 'COPY --chown=1:2 --chmod=755 a /b' });
    expect(codeOf(() => parseDockerfile('FROM scratch\nCOPY --from=build /a /b'))).toBe('UNSUPPORTED_FLAG');
    expect(codeOf(() => parseDockerfile('FROM scratch\nRUN --mount=type=cache true'))).toBe('UNSUPPORTED_FLAG');
  });

  it('refuses unknown and unsupported instructions with their line number', () => {
    expect(() => parseDockerfile('FROM scratch\n\nFOO bar')).toThrow(/line 3: unknown instruction "FOO"/);
    expect(codeOf(() => parseDockerfile('FROM scratch\nHEALTHCHECK CMD true'))).toBe('UNSUPPORTED_INSTRUCTION');
    expect(() => parseDockerfile('FROM scratch\nSHELL ["bash"]')).toThrow(/line 2: SHELL is not supported/);
    expect(codeOf(() => parseDockerfile('FROM a\nFROM b'))).toBe('UNSUPPORTED_INSTRUCTION');
  });

  it('needs FROM first (ARG may precede it) and arguments where they are due', () => {
    expect(codeOf(() => parseDockerfile('RUN true'))).toBe('DOCKERFILE_NO_FROM');
    expect(codeOf(() => parseDockerfile('# only a comment\n'))).toBe('DOCKERFILE_EMPTY');
    expect(codeOf(() => parseDockerfile('FROM scratch\nCOPY onlyone'))).toBe('DOCKERFILE_SYNTAX');
    expect(codeOf(() => parseDockerfile('FROM scratch\nWORKDIR'))).toBe('DOCKERFILE_SYNTAX');
    expect(parseDockerfile('ARG V=1\nFROM busybox:${V}').instructions).toHaveLength(2);
  });
});

describe('shell words', () => {
  const vars: Record<string, string> = { A: 'one', EMPTY: '' };
  const lookup = (n: string) => vars[n];
  it('expands variables, with defaults and alternatives, but not in single quotes or escaped', () => {
    expect(expandWord('$A-${A}_${B:-dflt}_${A:+alt}_${EMPTY:-e}_${EMPTY-x}', lookup)).toBe('one-one_dflt_alt_e_');
    expect(expandWord("'$A' \\$A \"$A\"", lookup)).toBe('$A $A one');
  });
  it('splits on unquoted whitespace only', () => {
    expect(expandWords('K=V K2="a b" K3=c\\ d \'\'', lookup)).toEqual(['K=V', 'K2=a b', 'K3=c d', '']);
  });
});

describe('build plan', () => {
  it('expands ARG and ENV (ENV wins), leaves RUN and CMD to the shell, and resolves WORKDIR and COPY destinations', () => {
    const { steps, unusedArgs } = plan(
      [
        'ARG TAG=1', 'FROM busybox:$TAG', 'ARG WHO=world', 'ENV GREETING="hello $WHO" PATH=$PATH:/app', 'WORKDIR app', 'WORKDIR sub/..',
        'COPY --chown=$WHO src/ ./', 'RUN echo $GREETING', 'EXPOSE 8080 53/udp', 'LABEL a=b "c d"=e', 'CMD echo hi', 'USER nobody', 'STOPSIGNAL SIGINT', 'VOLUME /data',
      ].join('\n'),
      { buildArgs: { WHO: 'you', UNUSED: 'x' }, baseEnv: ['PATH=/bin'] },
    );
    expect(steps.map((s) => s.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(steps[0]).toMatchObject({ kind: 'from', image: 'busybox:1', text: 'FROM busybox:$TAG' });
    expect(steps[2]).toMatchObject({ kind: 'config', change: { env: [['GREETING', 'hello you'], ['PATH', '/bin:/app']] } });
    expect(steps[3]).toMatchObject({ kind: 'workdir', path: '/app' });
    expect(steps[4]).toMatchObject({ kind: 'workdir', path: '/app' });
    expect(steps[5]).toMatchObject({ kind: 'copy', sources: ['src/'], dest: '/app', destIsDir: true, chown: 'you' });
    expect(steps[6]).toMatchObject({ kind: 'run', command: ['/bin/sh', '-c', 'echo $GREETING'], env: ['WHO=you'] });
    expect(steps[7]).toMatchObject({ change: { exposedPorts: ['8080/tcp', '53/udp'] } });
    expect(steps[8]).toMatchObject({ change: { labels: { a: 'b', 'c d': 'e' } } });
    expect(steps[9]).toMatchObject({ change: { cmd: ['/bin/sh', '-c', 'echo hi'] } });
    expect(steps[12]).toMatchObject({ change: { volumes: ['/data'] } });
    expect(unusedArgs).toEqual(['UNUSED']);
  });

  it('takes --build-arg over ARG defaults, and the old ENV form', () => {
    const file = parseDockerfile('ARG BASE=busybox\nFROM $BASE\nENV K some value\n');
    expect(baseImageOf(file, { BASE: 'alpine' })).toBe('alpine');
    expect(planBuild(file).steps[1]).toMatchObject({ change: { env: [['K', 'some value']] } });
  });

  it('refuses remote ADD, bad ports and several sources into a file', () => {
    expect(() => plan('FROM scratch\nADD https://example.com/a.tgz /')).toThrow(/line 2: ADD of a remote source/);
    expect(codeOf(() => plan('FROM scratch\nADD https://example.com/a.tgz /'))).toBe('ADD_REMOTE_UNSUPPORTED');
    expect(codeOf(() => plan('FROM scratch\nEXPOSE http'))).toBe('DOCKERFILE_SYNTAX');
    expect(codeOf(() => plan('FROM scratch\nCOPY a b /file'))).toBe('DOCKERFILE_SYNTAX');
  });
});
