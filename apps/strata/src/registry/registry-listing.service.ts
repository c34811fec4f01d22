import { Injectable } from '@nestjs/common';
import { allows } from '@strata/domain';
import { nextLink, pageOf, parsePageSize, RegistryError } from '@strata/registry';
import type { Request, Response } from 'express';
import { ReadModels } from '../projections/read-models.service.js';
import { RegistryAccess, type RegistryCaller } from './registry-access.js';

/** `tags/list` and `_catalog`, paged the spec's way (`n`, `last`, a `Link` to the next page). */
@Injectable()
export class RegistryListing {
  constructor(
    private readonly reads: ReadModels,
    private readonly access: RegistryAccess,
  ) {}

  async tags(caller: RegistryCaller, name: string, request: Request, response: Response): Promise<void> {
    await this.access.requireRead(caller, name);
    await this.reads.catchUpToHead();
    if (!(await this.reads.engine.getRepository(name))) {
      throw new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name });
    }
    const tags = (await this.reads.engine.listTags(name)).map((t) => t.tag);
    const n = parsePageSize(request.query.n);
    const page = pageOf(tags, n, request.query.last);
    if (page.next !== null) response.setHeader('Link', nextLink(`/v2/${name}/tags/list`, n, page.next));
    response.status(200).json({ name, tags: page.items });
  }

  /**
   * The catalog lists the public repositories and those the caller's grants let it pull (a token's
   * scope does not narrow it: the catalog is names only). Private names stay hidden from the rest.
   */
  async catalog(caller: RegistryCaller, request: Request, response: Response): Promise<void> {
    await this.reads.catchUpToHead();
    const repositories = (await this.reads.engine.listRepositories())
      .filter((r) => r.visibility === 'public' || (caller.principal !== null && allows(caller.principal.grants, r.name, 'pull')))
      .map((r) => r.name);
    const n = parsePageSize(request.query.n);
    const page = pageOf(repositories, n, request.query.last);
    if (page.next !== null) response.setHeader('Link', nextLink('/v2/_catalog', n, page.next));
    response.status(200).json({ repositories: page.items });
  }
}
