import { Global, Module } from '@nestjs/common';
import { DashboardAuth } from './dashboard-auth.service';
import { DashboardAuthGuard, DetailsGuard } from './dashboard-auth.guard';

/**
 * Who may use what (docs/security.md): the dashboard token check, shared by the dashboard socket,
 * the operator's HTTP endpoints, the details endpoints and the API docs. Global, so any feature
 * module can guard a route without depending on another feature.
 */
@Global()
@Module({
  providers: [DashboardAuth, DashboardAuthGuard, DetailsGuard],
  exports: [DashboardAuth, DashboardAuthGuard, DetailsGuard],
})
export class AccessModule {}
