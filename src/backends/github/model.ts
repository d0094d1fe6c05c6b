/** The GitHub REST API's release and asset objects, as far as s3mux reads them. */

export interface GithubAsset {
  id: number;
  name: string;
  size: number;
  state: string;
  content_type: string;
  created_at: string;
  updated_at: string;
  label?: string | null;
}

export interface GithubRelease {
  id: number;
  tag_name: string;
  created_at: string;
  draft?: boolean;
  upload_url: string;
  assets?: GithubAsset[];
}
