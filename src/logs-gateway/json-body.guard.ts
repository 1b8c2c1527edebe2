import { CanActivate, ExecutionContext, Injectable, UnsupportedMediaTypeException } from '@nestjs/common';
import type { Request } from 'express';

/**
 * A body that is not JSON is never parsed (the JSON parser skips it), so without this check a form or
 * text body would be accepted as "no changes" and answered 200.
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (req.is('application/json')) return true;
    const got = req.headers['content-type']?.slice(0, 80) ?? 'none';
    throw new UnsupportedMediaTypeException(`${req.method} ${req.path} takes a JSON body: send Content-Type: application/json (got ${got})`);
  }
}
