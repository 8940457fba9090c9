//! Experiment records on a remote: `exps/<name>.json`, moved as bytes (the `experiments`
//! layer reads them; this one only stores them).
//!
//! A record is written with create-if-absent, so two machines that name an experiment alike
//! never overwrite each other: the second is told the name is taken.
use super::Remote;
use crate::error::Result;
use futures::StreamExt;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

/// How sending one record went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    Created,
    /// The remote has these very bytes already.
    AlreadyThere,
    /// The remote has another record of that name.
    NameTaken,
}

/// One record read, or its name and why not.
type Fetched = std::result::Result<(String, Vec<u8>), (String, object_store::Error)>;

impl Remote {
    fn record_path(&self, name: &str) -> object_store::path::Path {
        self.prefix.clone().join("exps").join(format!("{name}.json"))
    }

    /// The names of the records on the remote.
    pub(crate) fn record_names(&self) -> Result<Vec<String>> {
        let names = self.runtime.block_on(self.list_names("exps", 1))?;
        Ok(names.into_iter().filter_map(|(n, _)| n.strip_suffix(".json").map(str::to_string)).collect())
    }

    /// The bytes of the records named `names` (8 requests in flight).
    pub(crate) fn read_records(&self, names: &[String]) -> Result<Vec<(String, Vec<u8>)>> {
        let got: Vec<Fetched> = self.runtime.block_on(
            futures::stream::iter(names.iter().cloned())
                .map(|name| async move {
                    let path = self.record_path(&name);
                    let bytes = match self.store.get(&path).await {
                        Ok(g) => g.bytes().await,
                        Err(e) => Err(e),
                    };
                    bytes.map(|b| (name.clone(), b.to_vec())).map_err(|e| (name, e))
                })
                .buffered(8)
                .collect(),
        );
        got.into_iter()
            .map(|r| r.map_err(|(name, e)| self.failed(format!("cannot read experiment record {name}"), e)))
            .collect()
    }

    /// Sends a record unless the remote has one of that name.
    pub(crate) fn put_record(&self, name: &str, bytes: Vec<u8>) -> Result<Sent> {
        let path = self.record_path(name);
        let put = self.runtime.block_on(self.store.put_opts(
            &path,
            PutPayload::from(bytes.clone()),
            PutOptions::from(PutMode::Create),
        ));
        match put {
            Ok(_) => Ok(Sent::Created),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                let there = self.read_records(&[name.to_string()])?;
                Ok(if there.first().is_some_and(|(_, b)| *b == bytes) {
                    Sent::AlreadyThere
                } else {
                    Sent::NameTaken
                })
            }
            Err(e) => Err(self.failed(format!("cannot send experiment record {name}"), e)),
        }
    }
}
