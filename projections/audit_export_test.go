package projections

// AuditQuery exposes the statement ListAuditRows and ExportAuditRows run,
// so the benchmark explains exactly that statement.
func AuditQuery(tenantID string, f AuditFilter, after, upTo int64, limit int) (string, []any) {
	return auditQuery(tenantID, f, after, upTo, limit)
}
